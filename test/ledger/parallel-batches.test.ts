/**
 * ledger_apply without a database-wide lock: three ledgers (three connection pools, as three
 * service instances would have) send every kind of command at once over overlapping accounts, so
 * batches of all kinds (the set path and the per-item loop) commit in parallel and wait for each
 * other only on shared balance rows. No deadlock may occur (PostgreSQL's own count for the database
 * stays the same), nothing but the expected refusals comes back, and the whole ledger verifies.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import postgres from "postgres";
import { openDatabase, type DatabaseHandle } from "../../src/db/client.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { assertLedgerInvariants } from "../support/invariants.js";

const ACCOUNTS = 12;
const ROUNDS = Number(process.env.PARALLEL_TEST_ROUNDS ?? 40);
const ctx = { clientId: "parallel" };

let database: TestDatabase;
let handles: DatabaseHandle[];
let ledgers: Ledger[];
let ids: string[];

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function random(seed: number): () => number {
  return () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
}

async function deadlocks(): Promise<number> {
  const admin = postgres(database.url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await admin`select deadlocks::int as n from pg_stat_database where datname = current_database()`;
    return row!.n as number;
  } finally {
    await admin.end();
  }
}

before(async () => {
  database = await createTestDatabase(4);
  handles = await Promise.all([0, 1, 2].map(() => openDatabase({ url: database.url, poolSize: 6, pgliteDataDir: "" })));
  // Small batches and several in flight per instance: the most interleaving of row locks.
  ledgers = handles.map((h) => new Ledger(h.db, { idempotencyTtlHours: 24, paymentBatch: { maxBatchSize: 16, maxInFlight: 3 } }));
  ids = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const { accountId } = await ledgers[0]!.createAccount({ accountId: "", currency: "EUR", displayName: `p${i}` }, ctx);
    await ledgers[0]!.depositFunds({ idempotencyKey: `seed-${i}`, accountId, amountCents: 40_000n, currency: "EUR" }, ctx);
    ids.push(accountId);
  }
});
after(async () => {
  await Promise.all(handles.map((h) => h.close()));
  await database.drop();
});

it(`commits overlapping batches of every command kind from three instances without a deadlock (${ROUNDS} rounds)`, async () => {
  const deadlocksBefore = await deadlocks();
  const next = random(11);
  const pick = () => ids[Math.floor(next() * ACCOUNTS)]!;
  const pair = () => {
    const payer = pick();
    let payee = pick();
    while (payee === payer) payee = pick();
    return { payer, payee };
  };
  let seq = 0;
  const key = () => `k-${++seq}`;
  const unexpected: string[] = [];
  const expected = new Set(["INVALID_PAYMENT_STATE", "REFUND_EXCEEDS_CAPTURED", "CAPTURE_EXCEEDS_HOLD"]);
  const refusal = (error: unknown) => {
    const code = (error as { code?: string }).code ?? String(error);
    if (!expected.has(code)) unexpected.push(code);
  };

  for (let round = 0; round < ROUNDS; round++) {
    const work: Promise<unknown>[] = [];
    for (const ledger of ledgers) {
      // A batch of authorizations (the set path when 8 or more), half of them holds.
      const batch = Array.from({ length: 2 + Math.floor(next() * 14) }, () => {
        const { payer, payee } = pair();
        return {
          idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents: BigInt(1 + Math.floor(next() * 300)),
          currency: "EUR", description: "", captureMethod: next() < 0.5 ? ("MANUAL" as const) : ("AUTOMATIC" as const),
        };
      });
      work.push(
        ledger.authorizePayments(batch, ctx).then((outcomes) =>
          Promise.all(outcomes.map((o, i) => {
            if (!("payment" in o)) return refusal(o.error);
            const payment = o.payment;
            // Every held or moved payment gets its next step from another instance, at once.
            const other = ledgers[(ledgers.indexOf(ledger) + 1 + i) % ledgers.length]!;
            if (payment.status === "REQUIRES_CAPTURE") {
              return (next() < 0.5
                ? other.capturePayment({ idempotencyKey: key(), paymentId: payment.paymentId, amountCents: 0n }, ctx)
                : other.voidPayment({ idempotencyKey: key(), paymentId: payment.paymentId }, ctx)).catch(refusal);
            }
            if (payment.status === "AUTHORIZED") {
              return other.refundPayment({ idempotencyKey: key(), paymentId: payment.paymentId, amountCents: 1n, reason: "" }, ctx).catch(refusal);
            }
            return undefined;
          })),
        ),
      );
      // Single deposits and payouts, which the instance's batcher groups with whatever else is due.
      for (let i = 0; i < 3; i++) {
        work.push(ledger.depositFunds({ idempotencyKey: key(), accountId: pick(), amountCents: 50n, currency: "EUR" }, ctx).catch(refusal));
        work.push(ledger.withdrawFunds({ idempotencyKey: key(), accountId: pick(), amountCents: 40n, currency: "EUR", reference: "" }, ctx).catch(refusal));
      }
    }
    await Promise.all(work);
  }

  assert.deepEqual(unexpected, [], "only refusals a concurrent step explains (a hold voided meanwhile, ...)");
  // Backends report their counters when they go idle; fresh connections see them once reported.
  await Promise.all(handles.map((h) => h.close()));
  handles = await Promise.all([0].map(() => openDatabase({ url: database.url, poolSize: 2, pgliteDataDir: "" })));
  assert.equal(await deadlocks(), deadlocksBefore, "no deadlock was detected");
  await assertLedgerInvariants(handles[0]!.db);
  const verified = await new Ledger(handles[0]!.db, { idempotencyTtlHours: 24 }).verify();
  assert.deepEqual(verified, { ok: true, violations: [] });
});
