/**
 * Atomic batches (ledger_apply_atomic, src/ledger/sql/35-ledger-apply-atomic.sql) on real
 * PostgreSQL: all or nothing for every batch form; the failing item keeps its outcome, the others
 * are ABORTED naming it; replays answer the same and write nothing; under concurrent payments an
 * atomic request's failure aborts no one else's, and the ledger stays sound.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Ledger } from "../../src/ledger/ledger.js";
import type { LedgerError } from "../../src/ledger/ledger-error.js";
import type { AuthorizePaymentCommand } from "../../src/ledger/payments.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { assertLedgerInvariants, countRows } from "../support/invariants.js";

const ctx = { clientId: "atomic-client" };
let database: TestDatabase;
let ledger: Ledger;
let keySeq = 0;
const key = () => `atomic-key-${++keySeq}`;

async function account(cents: bigint, currency = "USD") {
  const created = await ledger.createAccount({ currency, displayName: "acct", accountId: "" }, ctx);
  if (cents > 0n) await ledger.depositFunds({ idempotencyKey: key(), accountId: created.accountId, amountCents: cents, currency }, ctx);
  return created.accountId;
}

const available = async (id: string) => (await ledger.getBalance(id)).availableCents;
const pay = (payer: string, payee: string, amountCents: bigint, extra: Partial<AuthorizePaymentCommand> = {}): AuthorizePaymentCommand => ({
  idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents, currency: "USD", description: "", ...extra,
});

async function snapshot() {
  const tables = ["payments", "payment_states", "ledger_entries", "hold_movements", "outbox", "refunds", "withdrawals"];
  return Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await countRows(ledger.db, t)])));
}

/** The outcome's shape for comparisons: the error's code and message, or the record's status. */
const summary = (o: { error: LedgerError } | Record<string, unknown>) =>
  "error" in o ? `${(o.error as LedgerError).code}: ${(o.error as LedgerError).message}` : JSON.stringify(o, (_, v) => (typeof v === "bigint" ? `${v}` : v));

before(async () => {
  database = await createTestDatabase();
  ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
});
after(() => database.drop());

describe("atomic batches", () => {
  it("apply every item when none fails", async () => {
    const payer = await account(1_000n);
    const payee = await account(0n);
    const outcomes = await ledger.authorizePayments([pay(payer, payee, 100n), pay(payer, payee, 200n, { captureMethod: "MANUAL" })], ctx, true);
    assert.deepEqual(outcomes.map((o) => ("payment" in o ? o.payment.status : o.error.code)), ["AUTHORIZED", "REQUIRES_CAPTURE"]);
    assert.deepEqual([await available(payer), await available(payee)], [700n, 100n]);
  });

  it("write nothing when one item is declined: it keeps its decline, the others are ABORTED naming it; replays answer the same", async () => {
    const payer = await account(300n);
    const payee = await account(0n);
    const items = [pay(payer, payee, 100n), pay(payer, payee, 250n), pay(payer, payee, 50n)];
    const before = await snapshot();
    const outcomes = await ledger.authorizePayments(items, ctx, true);
    const [first, failed, third] = outcomes;
    assert.ok(first && "error" in first && third && "error" in third);
    for (const aborted of [first.error, third.error]) {
      assert.equal(aborted.code, "ABORTED");
      assert.equal(aborted.message, "aborted: items[1] failed (declined: INSUFFICIENT_FUNDS), so no item of this atomic batch was applied");
    }
    assert.ok(failed && "payment" in failed);
    assert.deepEqual([failed.payment.status, failed.payment.declineReason], ["DECLINED", "INSUFFICIENT_FUNDS"]);
    assert.deepEqual(await snapshot(), before, "no payment, entry, hold or event of the batch");
    assert.deepEqual([await available(payer), await available(payee)], [300n, 0n]);

    // The same batch again: the same outcomes, still nothing written, even though it would now fit
    // (the payer got money meanwhile): the keys keep what the batch came to.
    await ledger.depositFunds({ idempotencyKey: key(), accountId: payer, amountCents: 1_000n, currency: "USD" }, ctx);
    const again = await ledger.authorizePayments(items, ctx, true);
    assert.deepEqual(again.map(summary), outcomes.map(summary));
    // An aborted item's key alone, not atomic: still ABORTED.
    await assert.rejects(ledger.authorizePayment(items[0]!, ctx), (e: LedgerError) => e.code === "ABORTED");
    assert.equal(await available(payee), 0n);
    await assertLedgerInvariants(ledger.db);
  });

  it("write nothing when one item is refused by the database (unknown account, invalid state)", async () => {
    const payer = await account(1_000n);
    const payee = await account(0n);
    const before = await snapshot();
    const outcomes = await ledger.authorizePayments([pay(payer, payee, 10n), pay(payer, "nobody", 10n)], ctx, true);
    assert.deepEqual(outcomes.map((o) => ("error" in o ? [o.error.code, o.error.field] : o.payment.status)), [
      ["ABORTED", undefined],
      ["ACCOUNT_NOT_FOUND", "payee_account_id"],
    ]);
    assert.match((outcomes[0] as { error: LedgerError }).error.message, /items\[1\] failed \(ACCOUNT_NOT_FOUND\)/);
    assert.deepEqual(await snapshot(), before);

    const held = await ledger.authorizePayment(pay(payer, payee, 100n, { captureMethod: "MANUAL" }), ctx);
    const paid = await ledger.authorizePayment(pay(payer, payee, 100n), ctx);
    const mid = await snapshot();
    const captures = await ledger.capturePayments(
      [{ idempotencyKey: key(), paymentId: held.paymentId, amountCents: 50n }, { idempotencyKey: key(), paymentId: paid.paymentId, amountCents: 0n }],
      ctx,
      true,
    );
    assert.deepEqual(captures.map((o) => ("error" in o ? o.error.code : o.value.status)), ["ABORTED", "INVALID_PAYMENT_STATE"]);
    assert.deepEqual(await snapshot(), mid);
    assert.equal((await ledger.getPayment(held.paymentId)).status, "REQUIRES_CAPTURE");
  });

  it("write nothing when an item is invalid: nothing reaches the database", async () => {
    const payer = await account(1_000n);
    const payee = await account(0n);
    const before = await snapshot();
    const outcomes = await ledger.authorizePayments([pay(payer, payee, 10n), pay(payer, payee, 0n)], ctx, true);
    assert.deepEqual(outcomes.map((o) => ("error" in o ? [o.error.code, o.error.field ?? ""] : "")), [["ABORTED", ""], ["INVALID_ARGUMENT", "amount_cents"]]);
    assert.match((outcomes[0] as { error: LedgerError }).error.message, /^aborted: items\[1\] failed \(INVALID_ARGUMENT\)/);
    assert.deepEqual(await snapshot(), before);
  });

  it("cover refunds and payouts: a declined one aborts its batch", async () => {
    const payer = await account(1_000n);
    const payee = await account(0n);
    const paid = await ledger.authorizePayment(pay(payer, payee, 500n), ctx);
    await ledger.withdrawFunds({ idempotencyKey: key(), accountId: payee, amountCents: 400n, currency: "USD", reference: "" }, ctx);
    const before = await snapshot();
    const refunds = await ledger.refundPayments(
      [
        { idempotencyKey: key(), paymentId: paid.paymentId, amountCents: 50n, reason: "" },
        { idempotencyKey: key(), paymentId: paid.paymentId, amountCents: 100n, reason: "" },
      ],
      ctx,
      true,
    );
    assert.deepEqual(refunds.map((o) => ("error" in o ? o.error.code : `${o.value.status} ${o.value.declineReason}`)), ["ABORTED", "DECLINED INSUFFICIENT_FUNDS"]);
    const payouts = await ledger.withdrawFundsBatch(
      [
        { idempotencyKey: key(), accountId: payer, amountCents: 100n, currency: "USD", reference: "" },
        { idempotencyKey: key(), accountId: payee, amountCents: 101n, currency: "USD", reference: "" },
      ],
      ctx,
      true,
    );
    assert.deepEqual(payouts.map((o) => ("error" in o ? o.error.code : o.value.status)), ["ABORTED", "DECLINED"]);
    assert.deepEqual(await snapshot(), before);
    assert.deepEqual([await available(payer), await available(payee)], [500n, 100n]);
  });

  it("answer a key repeated within an aborted batch as its first use: ABORTED, kept for replays", async () => {
    const payer = await account(100n);
    const payee = await account(0n);
    const twice = pay(payer, payee, 10n);
    const items = [twice, twice, pay(payer, payee, 1_000n)];
    const outcomes = await ledger.authorizePayments(items, ctx, true);
    assert.deepEqual(outcomes.map((o) => ("error" in o ? o.error.code : o.payment.status)), ["ABORTED", "ABORTED", "DECLINED"]);
    assert.deepEqual((await ledger.authorizePayments(items, ctx, true)).map(summary), outcomes.map(summary));
    assert.equal(await available(payee), 0n);
  });

  it("keep an earlier request's outcome for a key it already used, and abort on a repeated key's refusal", async () => {
    const payer = await account(1_000n);
    const payee = await account(0n);
    const done = pay(payer, payee, 100n);
    const first = await ledger.authorizePayment(done, ctx);
    const outcomes = await ledger.authorizePayments([done, pay(payer, payee, 5_000n)], ctx, true);
    assert.ok(outcomes[0] && "payment" in outcomes[0]);
    assert.deepEqual(outcomes[0].payment, first, "the replay of the earlier payment stands");
    assert.equal(await available(payee), 100n);

    const reused = await ledger.authorizePayments([pay(payer, payee, 1n), { ...done, amountCents: 2n }], ctx, true);
    assert.deepEqual(reused.map((o) => ("error" in o ? o.error.code : "")), ["ABORTED", "IDEMPOTENCY_KEY_REUSED"]);
    assert.equal(await available(payee), 100n);
  });

  it("abort no one else under concurrent payments and batches on the same accounts; the ledger stays sound", async () => {
    // Two more ledgers (batchers) on the same database, several calls in flight each: requests
    // meet in PostgreSQL, not only in one batcher's queue.
    const others = [1, 2].map(() => new Ledger(database.handle.db, { idempotencyTtlHours: 24, paymentBatch: { maxBatchSize: 100, maxInFlight: 4 } }));
    const via = (round: number) => [ledger, ...others][round % 3]!;
    const payers = [await account(50_000n), await account(50_000n), await account(50_000n)];
    const payees = [await account(0n), await account(0n)];
    const work: Promise<unknown>[] = [];
    const results = { atomicApplied: 0, atomicAborted: 0, singles: 0, batchItems: 0 };
    for (let round = 0; round < 20; round++) {
      const payer = payers[round % payers.length]!;
      const payee = payees[round % payees.length]!;
      // Every fourth atomic batch carries an item that cannot be afforded.
      const doomed = round % 4 === 0;
      const atomicItems = [
        pay(payer, payee, 10n),
        pay(payer, payees[(round + 1) % payees.length]!, doomed ? 10_000_000n : 20n),
        pay(payer, "", 30n, { splits: [{ payeeAccountId: payees[0]!, amountCents: 20n }, { payeeAccountId: payees[1]!, amountCents: 10n }] }),
      ];
      work.push(
        via(round).authorizePayments(atomicItems, ctx, true).then((outcomes) => {
          const aborted = outcomes.filter((o) => "error" in o && o.error.code === "ABORTED").length;
          if (doomed) {
            assert.equal(aborted, 2);
            results.atomicAborted += 1;
          } else {
            assert.ok(outcomes.every((o) => "payment" in o && o.payment.status === "AUTHORIZED"), JSON.stringify(outcomes.map(summary)));
            results.atomicApplied += 1;
          }
        }),
      );
      work.push(via(round + 1).authorizePayment(pay(payers[(round + 1) % payers.length]!, payee, 7n), ctx).then((p) => {
        assert.equal(p.status, "AUTHORIZED");
        results.singles += 1;
      }));
      work.push(
        via(round + 2).authorizePayments(Array.from({ length: 9 }, () => pay(payers[(round + 2) % payers.length]!, payee, 3n)), ctx).then((outcomes) => {
          assert.ok(outcomes.every((o) => "payment" in o && o.payment.status === "AUTHORIZED"));
          results.batchItems += outcomes.length;
        }),
      );
    }
    await Promise.all(work);
    assert.deepEqual(results, { atomicApplied: 15, atomicAborted: 5, singles: 20, batchItems: 180 });
    const spent = 15n * 60n + 20n * 7n + 180n * 3n;
    const left = (await Promise.all(payers.map(available))).reduce((a, b) => a + b, 0n);
    assert.equal(left, 150_000n - spent);
    assert.equal((await Promise.all(payees.map(available))).reduce((a, b) => a + b, 0n), spent);
    await assertLedgerInvariants(ledger.db);
    assert.deepEqual((await ledger.verify()).violations, []);
  });
});
