import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { sql } from "drizzle-orm";
import { Ledger } from "../../src/ledger/ledger.js";
import type { PaymentRecord } from "../../src/ledger/records.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { assertLedgerInvariants, rows } from "../support/invariants.js";

const ACCOUNTS = 20;
const TRANSFERS = Number(process.env.CONCURRENCY_TEST_TRANSFERS ?? 3000);
const CONCURRENCY = 64;
const ctx = { clientId: "load" };

let database: TestDatabase;
let ledger: Ledger;
let ids: string[];

before(async () => {
  database = await createTestDatabase(20);
  ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
  ids = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const { accountId } = await ledger.createAccount({ accountId: "", currency: "EUR", displayName: `a${i}` }, ctx);
    // The hot payer (account 0) can afford most of its payments; the others run dry and decline.
    const seed = i === 0 ? 3_000_000n : 50_000n;
    await ledger.depositFunds({ idempotencyKey: `seed-${i}`, accountId, amountCents: seed, currency: "EUR" }, ctx);
    ids.push(accountId);
  }
});
after(() => database.drop());

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function random(seed: number): () => number {
  return () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
}

async function totalCustomerBalance(): Promise<bigint> {
  const [row] = await rows(ledger.db, sql`select sum(available_cents)::text as total from balances where not allow_negative`);
  return BigInt(row!.total as string);
}

it(`keeps every invariant through ${TRANSFERS} concurrent transfers with a hot payer and payee`, async () => {
  const next = random(42);
  const pick = () => ids[Math.floor(next() * ACCOUNTS)]!;
  const [hotPayer, hotPayee] = [ids[0]!, ids[1]!];
  const plan = Array.from({ length: TRANSFERS }, (_, i) => {
    const roll = next();
    let payer = roll < 0.3 ? hotPayer : pick();
    let payee = roll >= 0.3 && roll < 0.6 ? hotPayee : pick();
    while (payee === payer) payee = pick();
    return { idempotencyKey: `t-${i}`, payerAccountId: payer, payeeAccountId: payee, amountCents: BigInt(1 + Math.floor(next() * 5_000)), currency: "EUR", description: "" };
  });
  const totalBefore = await totalCustomerBalance();

  const results: PaymentRecord[] = [];
  const failures: unknown[] = [];
  let cursor = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (cursor < plan.length) {
        const command = plan[cursor++]!;
        try {
          results.push(await ledger.authorizePayment(command, ctx));
        } catch (error) {
          failures.push(error);
        }
      }
    }),
  );

  assert.deepEqual(failures, [], "no transfer failed (no deadlock or contention reached a client)");
  assert.equal(results.length, TRANSFERS);
  const authorized = results.filter((p) => p.status === "AUTHORIZED").length;
  assert.ok(authorized > TRANSFERS / 2, `most transfers authorized (${authorized})`);
  assert.ok(authorized < TRANSFERS, "some transfers declined for insufficient funds under the lock");
  assert.equal(await totalCustomerBalance(), totalBefore, "money is conserved");
  const [count] = await rows(ledger.db, sql`select count(*)::int as n from ledger_entries where transfer_id in (select id from payments)`);
  assert.equal(count!.n, authorized * 2);
  await assertLedgerInvariants(ledger.db);
});

it(`keeps every invariant through ${TRANSFERS} transfers sent as concurrent AuthorizePayments batches`, async () => {
  const next = random(7);
  const pick = () => ids[Math.floor(next() * ACCOUNTS)]!;
  const [hotPayer, hotPayee] = [ids[0]!, ids[1]!];
  const plan = Array.from({ length: TRANSFERS }, (_, i) => {
    const roll = next();
    let payer = roll < 0.3 ? hotPayer : pick();
    let payee = roll >= 0.3 && roll < 0.6 ? hotPayee : pick();
    while (payee === payer) payee = pick();
    // Every tenth item repeats an earlier key of the same plan: a duplicate within or across batches.
    const key = i % 10 === 9 ? `b-${i - 5}` : `b-${i}`;
    return { idempotencyKey: key, payerAccountId: payer, payeeAccountId: payee, amountCents: BigInt(1 + Math.floor(next() * 5_000)), currency: "EUR", description: "" };
  });
  const totalBefore = await totalCustomerBalance();
  const [entriesBefore] = await rows(ledger.db, sql`select count(*)::int as n from ledger_entries`);

  // 8 clients sending batches of 1 to 250 items at once.
  const chunks: (typeof plan)[] = [];
  for (let at = 0; at < plan.length; ) {
    const size = 1 + Math.floor(next() * 250);
    chunks.push(plan.slice(at, at + size));
    at += size;
  }
  const outcomes = new Map<number, Awaited<ReturnType<Ledger["authorizePayments"]>>>();
  let cursor = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (cursor < chunks.length) {
        const index = cursor++;
        outcomes.set(index, await ledger.authorizePayments(chunks[index]!, ctx));
      }
    }),
  );

  const all = chunks.flatMap((_, i) => outcomes.get(i)!);
  assert.equal(all.length, TRANSFERS, "one outcome per item");
  const errors = all.filter((o) => "error" in o).map((o) => ("error" in o ? o.error.code : ""));
  // A repeated key answers with its first request's payment, or IDEMPOTENCY_KEY_REUSED if the two
  // requests differ (they almost always do here): nothing else may fail.
  assert.deepEqual([...new Set(errors)].filter((code) => code !== "IDEMPOTENCY_KEY_REUSED"), []);
  const payments = new Map<string, PaymentRecord>();
  for (const o of all) if ("payment" in o) payments.set(o.payment.paymentId, o.payment);
  const authorized = [...payments.values()].filter((p) => p.status === "AUTHORIZED").length;
  assert.ok(authorized > 0, "transfers were authorized");
  assert.equal(await totalCustomerBalance(), totalBefore, "money is conserved");
  const [entriesAfter] = await rows(ledger.db, sql`select count(*)::int as n from ledger_entries`);
  assert.equal((entriesAfter!.n as number) - (entriesBefore!.n as number), authorized * 2, "two entries per authorized payment, none for replays");
  await assertLedgerInvariants(ledger.db);
});
