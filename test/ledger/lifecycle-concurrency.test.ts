/**
 * The lifecycle under concurrency: a randomized mix of every command with a hot payer and payee,
 * then the invariants; and races on one hold where exactly one transition wins.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { sql } from "drizzle-orm";
import { Ledger } from "../../src/ledger/ledger.js";
import { LedgerError } from "../../src/ledger/ledger-error.js";
import type { PaymentRecord } from "../../src/ledger/records.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { assertLedgerInvariants, rows } from "../support/invariants.js";

const ctx = { clientId: "lifecycle" };
let database: TestDatabase;
let ledger: Ledger;
let seq = 0;
const key = () => `k-${++seq}`;

before(async () => {
  database = await createTestDatabase();
  ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
});
after(() => database.drop());

async function account(cents: bigint, overdraftLimitCents = 0n) {
  const id = (await ledger.createAccount({ currency: "USD", displayName: "a", accountId: "", overdraftLimitCents }, ctx)).accountId;
  if (cents > 0n) await ledger.depositFunds({ idempotencyKey: key(), accountId: id, amountCents: cents, currency: "USD" }, ctx);
  return id;
}

/** "ok", or the ledger error code; anything else fails the test. */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    if (error instanceof LedgerError) return error.code;
    throw error;
  }
}

it("keeps every invariant through a randomized mix at concurrency 64 with a hot payer and payee", async () => {
  const hotPayer = await account(5_000_000n, 10_000n);
  const hotPayee = await account(0n);
  const others = await Promise.all(Array.from({ length: 8 }, (_, i) => account(200_000n, i % 2 === 0 ? 5_000n : 0n)));
  const everyone = [hotPayer, hotPayee, ...others];
  let random = 42;
  const next = (n: number) => ((random = (random * 1_103_515_245 + 12_345) % 2 ** 31), random % n);
  const pick = <T>(list: T[]) => list[next(list.length)]!;
  const holds: PaymentRecord[] = [];
  const paid: PaymentRecord[] = [];
  const outcomes = new Map<string, number>();

  async function step(): Promise<void> {
    const roll = next(100);
    const payer = roll % 3 === 0 ? pick(everyone) : hotPayer;
    let payee = roll % 5 === 0 ? pick(everyone) : hotPayee;
    if (payee === payer) payee = payer === hotPayee ? hotPayer : hotPayee;
    const amountCents = BigInt(1 + next(5_000));
    let kind: string;
    let call: Promise<unknown>;
    if (roll < 30) {
      kind = "authorize-manual";
      call = ledger
        .authorizePayment({ idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents, currency: "USD", description: "", captureMethod: "MANUAL" }, ctx)
        .then((p) => p.status === "REQUIRES_CAPTURE" && holds.push(p));
    } else if (roll < 50) {
      kind = "authorize";
      call = ledger
        .authorizePayment({ idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents, currency: "USD", description: "" }, ctx)
        .then((p) => p.status === "AUTHORIZED" && paid.push(p));
    } else if (roll < 65 && holds.length > 0) {
      kind = "capture";
      const hold = pick(holds);
      call = ledger.capturePayment({ idempotencyKey: key(), paymentId: hold.paymentId, amountCents: BigInt(next(Number(hold.amountCents) + 1)) }, ctx)
        .then((p) => paid.push(p));
    } else if (roll < 75 && holds.length > 0) {
      kind = "void";
      call = ledger.voidPayment({ idempotencyKey: key(), paymentId: pick(holds).paymentId }, ctx);
    } else if (roll < 85 && paid.length > 0) {
      kind = "refund";
      call = ledger.refundPayment({ idempotencyKey: key(), paymentId: pick(paid).paymentId, amountCents: BigInt(1 + next(3_000)), reason: "" }, ctx);
    } else if (roll < 93) {
      kind = "withdraw";
      call = ledger.withdrawFunds({ idempotencyKey: key(), accountId: pick(everyone), amountCents, currency: "USD", reference: "" }, ctx);
    } else if (roll < 97) {
      kind = "expire";
      // Make a random open hold due, then sweep: races with captures and voids of the same hold.
      const hold = holds.length > 0 ? pick(holds) : undefined;
      call = (hold
        ? database.handle.db.execute(sql`update payment_states set hold_expires_at = now() where payment_id = ${hold.paymentId} and status = 'REQUIRES_CAPTURE'`)
        : Promise.resolve()
      ).then(() => ledger.expireDueHolds());
    } else {
      kind = "deposit";
      call = ledger.depositFunds({ idempotencyKey: key(), accountId: pick(everyone), amountCents, currency: "USD" }, ctx);
    }
    const result = `${kind}:${await outcome(call)}`;
    outcomes.set(result, (outcomes.get(result) ?? 0) + 1);
  }

  const CONCURRENCY = 64;
  const STEPS = 1_500;
  let started = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started++ < STEPS) await step();
    }),
  );
  const summary = Object.fromEntries([...outcomes].sort());
  for (const name of Object.keys(summary)) {
    assert.match(name, /:(ok|INVALID_PAYMENT_STATE|CAPTURE_EXCEEDS_HOLD|REFUND_EXCEEDS_CAPTURED)$/, `unexpected outcome ${name}`);
  }
  for (const kind of ["authorize-manual", "authorize", "capture", "void", "refund", "withdraw", "expire"]) {
    assert.ok(summary[`${kind}:ok`], `some ${kind} succeeded: ${JSON.stringify(summary)}`);
  }
  await assertLedgerInvariants(database.handle.db);
});

it("capture vs void vs expiry on one hold: exactly one wins, the others get INVALID_PAYMENT_STATE", async () => {
  const payer = await account(1_000_000n);
  const payee = await account(0n);
  // A second instance: its own batcher, so the race also crosses database transactions.
  const other = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
  for (let round = 0; round < 20; round++) {
    const hold = await ledger.authorizePayment(
      { idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents: 100n, currency: "USD", description: "", captureMethod: "MANUAL" },
      ctx,
    );
    const due = round % 2 === 1;
    // A second ago: command times have millisecond precision, now() has microseconds.
    if (due) await database.handle.db.execute(sql`update payment_states set hold_expires_at = now() - interval '1 second' where payment_id = ${hold.paymentId}`);
    const [capture, voided, expiredHere, expiredThere] = await Promise.all([
      outcome(ledger.capturePayment({ idempotencyKey: key(), paymentId: hold.paymentId, amountCents: 60n }, ctx)),
      outcome(other.voidPayment({ idempotencyKey: key(), paymentId: hold.paymentId }, ctx)),
      ledger.expireDueHolds(),
      other.expireDueHolds(),
    ]);
    const detail = `round ${round}: capture ${capture}, void ${voided}, expired ${expiredHere}+${expiredThere}, now ${(await ledger.getPayment(hold.paymentId)).status}`;
    const wins = [capture === "ok", voided === "ok", expiredHere + expiredThere > 0].filter(Boolean).length;
    assert.equal(expiredHere + expiredThere <= 1, true, "expired at most once");
    assert.equal(wins, 1, detail);
    for (const lost of [capture, voided].filter((o) => o !== "ok")) assert.equal(lost, "INVALID_PAYMENT_STATE");
    if (due) assert.equal(expiredHere + expiredThere, 1, "a due hold is expired, never captured or voided");
    const transitions = await rows(database.handle.db, sql`select status from payment_transitions where payment_id = ${hold.paymentId}`);
    assert.equal(transitions.length, 2, "REQUIRES_CAPTURE and exactly one closing transition");
  }
  await assertLedgerInvariants(database.handle.db);
});
