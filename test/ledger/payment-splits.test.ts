/**
 * Split payments through ledger_apply on real PostgreSQL: one payer, the amount divided between
 * payees; partial captures and refunds divided by the split rule (ledger_split_shares); every leg
 * in its payee's statement; events with the legs; verification; bad input changes nothing.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import { transitionsAfter } from "../../src/ledger/history.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { encodePageToken } from "../../src/ledger/page-token.js";
import { LedgerError } from "../../src/ledger/ledger-error.js";
import type { PaymentSplit } from "../../src/ledger/payment-splits.js";
import type { AuthorizePaymentCommand } from "../../src/ledger/payments.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { assertLedgerInvariants, countRows, rows } from "../support/invariants.js";

const ctx = { clientId: "split-client" };
let database: TestDatabase;
let ledger: Ledger;
let keySeq = 0;
const key = () => `split-key-${++keySeq}`;

async function account(cents: bigint, currency = "USD") {
  const created = await ledger.createAccount({ currency, displayName: "acct", accountId: "" }, ctx);
  if (cents > 0n) await ledger.depositFunds({ idempotencyKey: key(), accountId: created.accountId, amountCents: cents, currency }, ctx);
  return created.accountId;
}

const available = async (id: string) => (await ledger.getBalance(id)).availableCents;

function split(payer: string, amountCents: bigint, splits: PaymentSplit[], extra: Partial<AuthorizePaymentCommand> = {}): AuthorizePaymentCommand {
  return { idempotencyKey: key(), payerAccountId: payer, payeeAccountId: "", amountCents, currency: "USD", description: "order", splits, ...extra };
}

async function snapshot() {
  const tables = ["payments", "payment_splits", "ledger_entries", "hold_movements", "outbox", "idempotency_keys", "refunds"];
  return Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await countRows(ledger.db, t)])));
}

async function events(paymentId: string) {
  const found = await rows(ledger.db, sql`select event_type, envelope from outbox where aggregate_id = ${paymentId} order by id`);
  return found.map((e) => ({ type: e.event_type, payload: (e.envelope as { payload: Record<string, unknown> }).payload }));
}

async function assertSound() {
  await assertLedgerInvariants(ledger.db);
  assert.deepEqual((await ledger.verify()).violations, []);
}

before(async () => {
  database = await createTestDatabase();
  ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
});
after(() => database.drop());

describe("split payments", () => {
  it("moves the amount from the payer to each payee at once (automatic), with one entry per account", async () => {
    const payer = await account(10_000n);
    const merchant = await account(0n);
    const platform = await account(0n);
    const command = split(payer, 10_000n, [{ payeeAccountId: merchant, amountCents: 9_700n }, { payeeAccountId: platform, amountCents: 300n }]);
    const payment = await ledger.authorizePayment(command, ctx);

    assert.equal(payment.status, "AUTHORIZED");
    assert.equal(payment.payeeAccountId, "");
    assert.deepEqual(payment.splits, [
      { payeeAccountId: merchant, amountCents: 9_700n, capturedCents: 9_700n, refundedCents: 0n },
      { payeeAccountId: platform, amountCents: 300n, capturedCents: 300n, refundedCents: 0n },
    ]);
    assert.deepEqual([await available(payer), await available(merchant), await available(platform)], [0n, 9_700n, 300n]);
    const entries = await rows(ledger.db, sql`select account_id, amount_cents::text as amount from ledger_entries where transfer_id = ${payment.paymentId} order by id`);
    assert.deepEqual(entries, [
      { account_id: payer, amount: "-10000" },
      { account_id: merchant, amount: "9700" },
      { account_id: platform, amount: "300" },
    ]);
    assert.deepEqual(await ledger.getPayment(payment.paymentId), payment);
    assert.deepEqual(await ledger.authorizePayment(command, ctx), payment, "a replay answers the same");

    const [event] = await events(payment.paymentId);
    assert.equal(event?.type, "PaymentAuthorized");
    assert.deepEqual(event?.payload.splits, [
      { payeeAccountId: merchant, amountCents: "9700" },
      { payeeAccountId: platform, amountCents: "300" },
    ]);
    assert.equal(event?.payload.payeeAccountId, "");

    // Each leg is in its payee's statement, caused by the payment.
    for (const [payee, amount] of [[merchant, 9_700n], [platform, 300n]] as const) {
      const page = await ledger.listAccountEntries({ accountId: payee, newestFirst: false, pageSize: 50, pageToken: "" });
      assert.deepEqual(page.items.map((l) => [l.kind, l.amountCents, l.causeKind, l.causeId]), [["ENTRY", amount, "PAYMENT", payment.paymentId]]);
    }
    await assertSound();
  });

  it("captures part of a held split by the rule (3 legs, odd cents) and refunds from the payees by the same rule", async () => {
    const payer = await account(5_000n);
    const [a, b, c] = [await account(0n), await account(0n), await account(0n)];
    const held = await ledger.authorizePayment(
      split(payer, 1_000n, [{ payeeAccountId: a, amountCents: 333n }, { payeeAccountId: b, amountCents: 333n }, { payeeAccountId: c, amountCents: 334n }], {
        captureMethod: "MANUAL",
      }),
      ctx,
    );
    assert.equal(held.status, "REQUIRES_CAPTURE");
    assert.deepEqual(held.splits?.map((l) => l.capturedCents), [0n, 0n, 0n]);
    assert.equal((await ledger.getBalance(payer)).heldCents, 1_000n);

    // 500 of 1,000: 166.5, 166.5, 167 -> 166 + 166 + 167 = 499; the cent left goes to the largest
    // remainder, a tie between the first two legs, so to the first.
    const captured = await ledger.capturePayment({ idempotencyKey: key(), paymentId: held.paymentId, amountCents: 500n }, ctx);
    assert.equal(captured.status, "CAPTURED");
    assert.deepEqual(captured.splits?.map((l) => l.capturedCents), [167n, 166n, 167n]);
    assert.deepEqual([await available(payer), await available(a), await available(b), await available(c)], [4_500n, 167n, 166n, 167n]);
    const capturedEvent = (await events(held.paymentId)).find((e) => e.type === "PaymentCaptured");
    assert.deepEqual(capturedEvent?.payload.splits, [
      { payeeAccountId: a, capturedCents: "167" },
      { payeeAccountId: b, capturedCents: "166" },
      { payeeAccountId: c, capturedCents: "167" },
    ]);
    const statement = await ledger.listAccountEntries({ accountId: b, newestFirst: false, pageSize: 50, pageToken: "" });
    assert.deepEqual(statement.items.map((l) => [l.causeKind, l.causeId, l.amountCents]), [["CAPTURE", held.paymentId, 166n]]);

    // 100 of what is left (167, 166, 167): 33.4, 33.2, 33.4 -> 99; the cent to the first of the tied 0.4s.
    const first = await ledger.refundPayment({ idempotencyKey: key(), paymentId: held.paymentId, amountCents: 100n, reason: "" }, ctx);
    assert.equal(first.status, "REFUNDED");
    assert.deepEqual(first.payment.splits?.map((l) => l.refundedCents), [34n, 33n, 33n]);
    const refundedEvent = (await events(held.paymentId)).find((e) => e.type === "PaymentRefunded");
    assert.deepEqual(refundedEvent?.payload.splits, [
      { payeeAccountId: a, refundedCents: "34" },
      { payeeAccountId: b, refundedCents: "33" },
      { payeeAccountId: c, refundedCents: "33" },
    ]);
    const refundLine = (await ledger.listAccountEntries({ accountId: a, newestFirst: true, pageSize: 1, pageToken: "" })).items[0];
    assert.deepEqual([refundLine?.causeKind, refundLine?.causeId, refundLine?.amountCents], ["REFUND", first.refundId, -34n]);

    // The rest: exactly what each leg still has, never more than it received.
    const rest = await ledger.refundPayment({ idempotencyKey: key(), paymentId: held.paymentId, amountCents: 400n, reason: "" }, ctx);
    assert.deepEqual(rest.payment.splits?.map((l) => l.refundedCents), [167n, 166n, 167n]);
    assert.deepEqual([await available(payer), await available(a), await available(b), await available(c)], [5_000n, 0n, 0n, 0n]);
    await assert.rejects(
      ledger.refundPayment({ idempotencyKey: key(), paymentId: held.paymentId, amountCents: 1n, reason: "" }, ctx),
      (e: LedgerError) => e.code === "REFUND_EXCEEDS_CAPTURED",
    );
    await assertSound();
  });

  it("captures a whole split hold to its amounts, and a void releases it with nothing to the payees", async () => {
    const payer = await account(2_000n);
    const [a, b] = [await account(0n), await account(0n)];
    const legs = [{ payeeAccountId: a, amountCents: 701n }, { payeeAccountId: b, amountCents: 299n }];
    const whole = await ledger.authorizePayment(split(payer, 1_000n, legs, { captureMethod: "MANUAL" }), ctx);
    const captured = await ledger.capturePayment({ idempotencyKey: key(), paymentId: whole.paymentId, amountCents: 0n }, ctx);
    assert.deepEqual(captured.splits?.map((l) => l.capturedCents), [701n, 299n]);

    const voided = await ledger.authorizePayment(split(payer, 1_000n, legs, { captureMethod: "MANUAL" }), ctx);
    const released = await ledger.voidPayment({ idempotencyKey: key(), paymentId: voided.paymentId }, ctx);
    assert.equal(released.status, "VOIDED");
    assert.deepEqual(released.splits?.map((l) => l.capturedCents), [0n, 0n]);
    assert.deepEqual([await available(payer), await available(a), await available(b)], [1_000n, 701n, 299n]);
    await assertSound();
  });

  it("expires a split hold past its time like any hold: released to the payer, nothing to the payees", async () => {
    const payer = await account(500n);
    const [a, b] = [await account(0n), await account(0n)];
    const held = await ledger.authorizePayment(
      split(payer, 300n, [{ payeeAccountId: a, amountCents: 200n }, { payeeAccountId: b, amountCents: 100n }], { captureMethod: "MANUAL" }),
      ctx,
    );
    await ledger.db.execute(sql`update payment_states set hold_expires_at = now() - interval '1 second' where payment_id = ${held.paymentId}`);
    assert.ok((await ledger.expireDueHolds()) >= 1);
    const expired = await ledger.getPayment(held.paymentId);
    assert.equal(expired.status, "EXPIRED");
    assert.deepEqual(expired.splits?.map((l) => l.capturedCents), [0n, 0n]);
    assert.deepEqual([await available(payer), (await ledger.getBalance(payer)).heldCents, await available(a), await available(b)], [500n, 0n, 0n, 0n]);
    const event = (await events(held.paymentId)).find((e) => e.type === "PaymentExpired");
    assert.deepEqual([event?.payload.payeeAccountId, event?.payload.releasedCents], ["", "300"]);
    await assertSound();
  });

  it("makes one decision: declines the whole payment when the payer cannot afford it or a payee holds another currency", async () => {
    const payer = await account(999n);
    const [a, b, eur] = [await account(0n), await account(0n), await account(0n, "EUR")];
    const poor = await ledger.authorizePayment(split(payer, 1_000n, [{ payeeAccountId: a, amountCents: 500n }, { payeeAccountId: b, amountCents: 500n }]), ctx);
    assert.deepEqual([poor.status, poor.declineReason], ["DECLINED", "INSUFFICIENT_FUNDS"]);
    assert.deepEqual(poor.splits?.map((l) => [l.amountCents, l.capturedCents]), [[500n, 0n], [500n, 0n]]);
    const mixed = await ledger.authorizePayment(split(payer, 10n, [{ payeeAccountId: a, amountCents: 5n }, { payeeAccountId: eur, amountCents: 5n }]), ctx);
    assert.deepEqual([mixed.status, mixed.declineReason], ["DECLINED", "CURRENCY_MISMATCH"]);
    assert.deepEqual([await available(payer), await available(a), await available(b)], [999n, 0n, 0n]);
    const [declined] = await events(poor.paymentId);
    assert.equal(declined?.type, "PaymentDeclined");
    assert.equal((declined?.payload.splits as unknown[]).length, 2);
    await assertSound();
  });

  it("declines a whole refund when one payee cannot cover its share", async () => {
    const payer = await account(1_000n);
    const [a, b] = [await account(0n), await account(0n)];
    const payment = await ledger.authorizePayment(split(payer, 1_000n, [{ payeeAccountId: a, amountCents: 900n }, { payeeAccountId: b, amountCents: 100n }]), ctx);
    await ledger.withdrawFunds({ idempotencyKey: key(), accountId: b, amountCents: 100n, currency: "USD", reference: "" }, ctx);
    const before = await snapshot();
    const refund = await ledger.refundPayment({ idempotencyKey: key(), paymentId: payment.paymentId, amountCents: 1_000n, reason: "" }, ctx);
    assert.deepEqual([refund.status, refund.declineReason], ["DECLINED", "INSUFFICIENT_FUNDS"]);
    assert.deepEqual(refund.payment.splits?.map((l) => l.refundedCents), [0n, 0n]);
    assert.equal(await available(a), 900n);
    const after = await snapshot();
    assert.deepEqual({ ...after, refunds: before.refunds, outbox: before.outbox, idempotency_keys: before.idempotency_keys }, before, "only the declined refund, its event and key");
    const declined = (await events(payment.paymentId)).find((e) => e.type === "PaymentRefundDeclined");
    assert.deepEqual(declined?.payload.splits, [{ payeeAccountId: a, refundedCents: "900" }, { payeeAccountId: b, refundedCents: "100" }]);
    await assertSound();
  });

  it("refuses bad splits with invalid_argument naming the field, and writes nothing", async () => {
    const payer = await account(1_000n);
    const [a, b] = [await account(0n), await account(0n)];
    const cases: [AuthorizePaymentCommand, string, RegExp][] = [
      [split(payer, 10n, [{ payeeAccountId: a, amountCents: 10n }], { payeeAccountId: b }), "payee_account_id", /must be empty when splits are set/],
      [split(payer, 10n, [{ payeeAccountId: a, amountCents: 5n }, { payeeAccountId: a, amountCents: 5n }]), "splits[1].payee_account_id", /same account as splits\[0\]/],
      [split(payer, 10n, [{ payeeAccountId: payer, amountCents: 10n }]), "splits[0].payee_account_id", /must differ from payer_account_id/],
      [split(payer, 10n, [{ payeeAccountId: a, amountCents: 5n }, { payeeAccountId: b, amountCents: 4n }]), "splits", /sum to 9, but amount_cents is 10/],
      [split(payer, 10n, [{ payeeAccountId: a, amountCents: 10n }, { payeeAccountId: b, amountCents: 0n }]), "splits[1].amount_cents", /greater than 0/],
      [split(payer, 10n, [{ payeeAccountId: "bad id!", amountCents: 10n }]), "splits[0].payee_account_id", /A-Z a-z 0-9/],
      [split(payer, 11n, Array.from({ length: 11 }, (_, i) => ({ payeeAccountId: `p${i}`, amountCents: 1n }))), "splits", /at most 10 payees/],
    ];
    const before = await snapshot();
    for (const [command, field, message] of cases) {
      await assert.rejects(ledger.authorizePayment(command, ctx), (e: LedgerError) => {
        assert.equal(e.code, "INVALID_ARGUMENT");
        assert.equal(e.field, field);
        assert.match(e.message, message);
        assert.ok(e.message.startsWith(`${field}:`), e.message);
        return true;
      });
    }
    // A payee that does not exist: refused by the database, nothing written.
    await assert.rejects(
      ledger.authorizePayment(split(payer, 10n, [{ payeeAccountId: a, amountCents: 5n }, { payeeAccountId: "nobody", amountCents: 5n }]), ctx),
      (e: LedgerError) => e.code === "ACCOUNT_NOT_FOUND" && e.field === "splits[1].payee_account_id",
    );
    assert.deepEqual(await snapshot(), before);
  });

  it("fingerprints the legs: the same key with other splits is a reused key", async () => {
    const payer = await account(100n);
    const [a, b] = [await account(0n), await account(0n)];
    const command = split(payer, 10n, [{ payeeAccountId: a, amountCents: 6n }, { payeeAccountId: b, amountCents: 4n }]);
    await ledger.authorizePayment(command, ctx);
    await assert.rejects(
      ledger.authorizePayment({ ...command, splits: [{ payeeAccountId: a, amountCents: 5n }, { payeeAccountId: b, amountCents: 5n }] }, ctx),
      (e: LedgerError) => e.code === "IDEMPOTENCY_KEY_REUSED",
    );
  });

  it("runs a large batch with a split in it item by item, each with its own outcome", async () => {
    const payer = await account(100_000n);
    const [a, b] = [await account(0n), await account(0n)];
    const commands = Array.from({ length: 12 }, (_, i): AuthorizePaymentCommand =>
      i === 5
        ? split(payer, 100n, [{ payeeAccountId: a, amountCents: 60n }, { payeeAccountId: b, amountCents: 40n }])
        : { idempotencyKey: key(), payerAccountId: payer, payeeAccountId: a, amountCents: 10n, currency: "USD", description: "" },
    );
    const outcomes = await ledger.authorizePayments(commands, ctx);
    assert.ok(outcomes.every((o) => "payment" in o && o.payment.status === "AUTHORIZED"));
    const payment = (outcomes[5] as { payment: { splits?: unknown[] } }).payment;
    assert.equal(payment.splits?.length, 2);
    assert.deepEqual([await available(payer), await available(a), await available(b)], [100_000n - 210n, 170n, 40n]);
    await assertSound();
  });
});

describe("split payments in ListPayments", () => {
  it("lists a split payment for its payer and for each payee, newest first, paged with the payee's other payments", async () => {
    const [payer, other, a, b] = [await account(10_000n), await account(10_000n), await account(0n), await account(0n)];
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      const splitPayment = await ledger.authorizePayment(split(payer, 10n, [{ payeeAccountId: a, amountCents: 6n }, { payeeAccountId: b, amountCents: 4n }]), ctx);
      const direct = await ledger.authorizePayment(
        { idempotencyKey: key(), payerAccountId: other, payeeAccountId: a, amountCents: 5n, currency: "USD", description: "" }, ctx);
      const outgoing = await ledger.authorizePayment(
        { idempotencyKey: key(), payerAccountId: a, payeeAccountId: other, amountCents: 1n, currency: "USD", description: "" }, ctx);
      made.push(splitPayment.paymentId, direct.paymentId, outgoing.paymentId);
    }
    const listed: string[] = [];
    let pageToken = "";
    do {
      const page = await ledger.listPayments({ accountId: a, statuses: [], pageSize: 4, pageToken });
      listed.push(...page.items.map((p) => p.paymentId));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    assert.deepEqual(listed, [...made].reverse(), "every payment of a: as split payee, payee and payer, newest first, no page repeats or skips");
    const ofB = await ledger.listPayments({ accountId: b, statuses: ["AUTHORIZED"], pageSize: 50, pageToken: "" });
    assert.deepEqual(ofB.items.map((p) => p.paymentId), made.filter((_, i) => i % 3 === 0).reverse());
    assert.ok(ofB.items.every((p) => p.splits?.length === 2));
    const ofPayer = await ledger.listPayments({ accountId: payer, statuses: [], pageSize: 50, pageToken: "" });
    assert.equal(ofPayer.items.length, 5);
  });
});

describe("split payments in WatchPayments", () => {
  it("gives every step of a split payment to each payee, numbered among its own steps", async () => {
    const [payer, a, b] = [await account(1_000n), await account(0n), await account(0n)];
    const direct = await ledger.authorizePayment(
      { idempotencyKey: key(), payerAccountId: payer, payeeAccountId: a, amountCents: 5n, currency: "USD", description: "" }, ctx);
    const held = await ledger.authorizePayment(
      split(payer, 100n, [{ payeeAccountId: a, amountCents: 70n }, { payeeAccountId: b, amountCents: 30n }], { captureMethod: "MANUAL" }), ctx);
    await ledger.capturePayment({ idempotencyKey: key(), paymentId: held.paymentId, amountCents: 50n }, ctx);
    await ledger.refundPayment({ idempotencyKey: key(), paymentId: held.paymentId, amountCents: 10n, reason: "" }, ctx);
    const voided = await ledger.authorizePayment(
      split(payer, 10n, [{ payeeAccountId: b, amountCents: 10n }], { captureMethod: "MANUAL" }), ctx);
    await ledger.voidPayment({ idempotencyKey: key(), paymentId: voided.paymentId }, ctx);

    const steps = async (id: string) => (await transitionsAfter(ledger.db, id, 0n, 50)).map((t) => [t.position, t.status, t.amountCents, t.payment.paymentId]);
    assert.deepEqual(await steps(a), [
      [1n, "AUTHORIZED", 5n, direct.paymentId],
      [2n, "REQUIRES_CAPTURE", 100n, held.paymentId],
      [3n, "CAPTURED", 50n, held.paymentId],
      [4n, "REFUNDED", 10n, held.paymentId],
    ]);
    assert.deepEqual(await steps(b), [
      [1n, "REQUIRES_CAPTURE", 100n, held.paymentId],
      [2n, "CAPTURED", 50n, held.paymentId],
      [3n, "REFUNDED", 10n, held.paymentId],
      [4n, "REQUIRES_CAPTURE", 10n, voided.paymentId],
      [5n, "VOIDED", 10n, voided.paymentId],
    ]);
    assert.equal((await steps(payer)).length, 6);
    // A watch resumed from a payee's step continues right after it.
    const abort = new AbortController();
    const watch = ledger.watchPayments(b, encodePageToken({ watch: b, v: 3 }, ["3"]), abort.signal);
    const next = [(await watch.next()).value, (await watch.next()).value];
    abort.abort();
    await watch.return(undefined);
    assert.deepEqual(next.map((c) => c && [c.transition.position, c.transition.status]), [[4n, "REQUIRES_CAPTURE"], [5n, "VOIDED"]]);
    await assertSound();
  });
});

describe("split payments under concurrent payments", () => {
  it("keep the ledger sound with three batchers, payees that also pay, captures and refunds racing, and no deadlock", async () => {
    const deadlocks = async () => Number((await rows(ledger.db, sql`select deadlocks::int as n from pg_stat_database where datname = current_database()`))[0]!.n);
    const deadlocksBefore = await deadlocks();
    const others = [1, 2].map(() => new Ledger(database.handle.db, { idempotencyTtlHours: 24, paymentBatch: { maxBatchSize: 50, maxInFlight: 4 } }));
    const via = (n: number) => [ledger, ...others][n % 3]!;
    // Every account pays and receives: a split payment's payee is another's payer.
    const ids = await Promise.all(Array.from({ length: 5 }, () => account(100_000n)));
    const total = async () => (await Promise.all(ids.map(available))).reduce((x, y) => x + y, 0n);
    const before = await total();
    const work: Promise<unknown>[] = [];
    for (let round = 0; round < 30; round++) {
      const payer = ids[round % 5]!;
      const legs = [1, 2, 3].map((k) => ({ payeeAccountId: ids[(round + k) % 5]!, amountCents: BigInt(101 + k * round) }));
      const amount = legs.reduce((x, l) => x + l.amountCents, 0n);
      const manual = round % 2 === 0;
      work.push(
        (async () => {
          const payment = await via(round).authorizePayment(split(payer, amount, legs, manual ? { captureMethod: "MANUAL" } : {}), ctx);
          assert.equal(payment.status, manual ? "REQUIRES_CAPTURE" : "AUTHORIZED");
          if (manual) await via(round + 1).capturePayment({ idempotencyKey: key(), paymentId: payment.paymentId, amountCents: amount - 7n }, ctx);
          const refund = await via(round + 2).refundPayment({ idempotencyKey: key(), paymentId: payment.paymentId, amountCents: 13n, reason: "" }, ctx);
          assert.equal(refund.status, "REFUNDED");
        })(),
      );
      work.push(via(round + 1).authorizePayment(
        { idempotencyKey: key(), payerAccountId: ids[(round + 2) % 5]!, payeeAccountId: ids[(round + 4) % 5]!, amountCents: 17n, currency: "USD", description: "" }, ctx));
    }
    await Promise.all(work);
    assert.equal(await total(), before, "money only moved between the accounts");
    assert.equal(await deadlocks(), deadlocksBefore, "no deadlock was detected");
    await assertSound();
  });
});

describe("the split rule (ledger_split_shares)", () => {
  const shares = async (amount: bigint, weights: bigint[]) => {
    const [row] = await rows(ledger.db, sql`select ledger_split_shares(${amount.toString()}::bigint, ${`{${weights.join(",")}}`}::bigint[])::text[] as s`);
    return (row!.s as string[]).map(BigInt);
  };

  it("divides in proportion, largest remainder, ties to the earlier leg", async () => {
    assert.deepEqual(await shares(500n, [333n, 333n, 334n]), [167n, 166n, 167n]);
    assert.deepEqual(await shares(1n, [1n, 1n, 1n]), [1n, 0n, 0n]);
    assert.deepEqual(await shares(2n, [1n, 1n, 1n]), [1n, 1n, 0n]);
    assert.deepEqual(await shares(100n, [9_700n, 300n]), [97n, 3n]);
    assert.deepEqual(await shares(7n, [0n, 5n, 5n]), [0n, 4n, 3n]);
    assert.deepEqual(await shares(9_007_199_254_740_991n, [9_007_199_254_740_990n, 1n]), [9_007_199_254_740_990n, 1n]);
    assert.deepEqual(await shares(0n, [3n, 4n]), [0n, 0n]);
  });

  it("accounts for every cent and gives no leg more than its weight or a cent off its exact share (random cases)", async () => {
    let seed = 19;
    const next = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
    for (let round = 0; round < 200; round++) {
      const weights = Array.from({ length: 1 + next(10) }, () => BigInt(next(10_000)));
      if (!weights.some((w) => w > 0n)) weights[0] = 1n;
      const total = weights.reduce((x, y) => x + y, 0n);
      const amount = BigInt(next(Number(total) + 1));
      const got = await shares(amount, weights);
      assert.equal(got.reduce((x, y) => x + y, 0n), amount, `sum for ${amount} over ${weights}`);
      got.forEach((share, i) => {
        const floor = (amount * weights[i]!) / total;
        assert.ok(share === floor || share === floor + 1n, `share ${i} of ${amount} over ${weights}: ${share}, exact floor ${floor}`);
        assert.ok(share <= weights[i]!, `share ${i} within its weight`);
      });
    }
  });
});

describe("verification of split payments", () => {
  it("names a leg whose part, captured or refunded amount was changed in SQL", async () => {
    const own = await createTestDatabase(4);
    try {
      const l = new Ledger(own.handle.db, { idempotencyTtlHours: 24 });
      const open = async () => (await l.createAccount({ currency: "USD", displayName: "v", accountId: "" }, ctx)).accountId;
      const [payer, a, b] = [await open(), await open(), await open()];
      await l.depositFunds({ idempotencyKey: "v-dep", accountId: payer, amountCents: 1_000n, currency: "USD" }, ctx);
      const legs = [{ payeeAccountId: a, amountCents: 50n }, { payeeAccountId: b, amountCents: 50n }];
      const paid = await l.authorizePayment({ ...split(payer, 100n, legs), idempotencyKey: "v-1" }, ctx);
      const held = await l.authorizePayment({ ...split(payer, 100n, legs, { captureMethod: "MANUAL" }), idempotencyKey: "v-2" }, ctx);
      await l.capturePayment({ idempotencyKey: "v-3", paymentId: held.paymentId, amountCents: 30n }, ctx);
      await l.refundPayment({ idempotencyKey: "v-4", paymentId: held.paymentId, amountCents: 10n, reason: "" }, ctx);
      assert.deepEqual((await l.verify()).violations, []);
      const checks = async () => (await l.verify()).violations.map((v) => `${v.check} ${v.subject}`).sort();
      const edit = (statement: ReturnType<typeof sql>) => l.db.execute(statement);

      await edit(sql`update payment_splits set amount_cents = 51 where payment_id = ${paid.paymentId} and position = 1`);
      assert.deepEqual(await checks(), [`SPLIT_SUM payment ${paid.paymentId}`]);
      await edit(sql`update payment_splits set amount_cents = 50 where payment_id = ${paid.paymentId} and position = 1`);

      // Shares moved between the legs: the totals still agree, the payees' entries do not.
      await edit(sql`update payment_splits set captured_cents = captured_cents + case position when 1 then 1 else -1 end where payment_id = ${held.paymentId}`);
      assert.deepEqual(await checks(), [`LEG_ENTRIES payment ${held.paymentId}`, `LEG_ENTRIES payment ${held.paymentId}`]);
      await edit(sql`update payment_splits set captured_cents = 15 where payment_id = ${held.paymentId}`);
      assert.deepEqual(await checks(), []);

      await edit(sql`alter table payment_splits drop constraint payment_splits_refunded_within_captured`);
      await edit(sql`update payment_splits set refunded_cents = 16 where payment_id = ${held.paymentId} and position = 2`);
      assert.deepEqual(await checks(), [`LEG_ENTRIES payment ${held.paymentId}`, `SPLIT_BOUNDS payment ${held.paymentId}`, `SPLIT_TOTALS payment ${held.paymentId}`]);
    } finally {
      await own.drop();
    }
  });
});
