/**
 * Every row the write path reads is found by a key it has (an account, a payment, an idempotency
 * key), so no statement of ledger_apply should scan a table. Its statements are planned once per
 * session and the plan kept; planned from the statistics of a small table (a new ledger, or an
 * ANALYZE taken early) they scanned the whole table for one key, a cost that grew with the
 * ledger: every call read all payments, a key's update all keys, and the set path all balances.
 * This test takes the statistics while the tables are nearly empty (the worst case) and fails on
 * any sequential scan a call of ledger_apply or ledger_apply_atomic makes, for every command kind
 * on both paths (1 item: the loop; 4: the authorizations' set path, the loop for the rest; 8: the
 * set paths), and by the record functions reads call per row.
 * With sequential scans off, a plan can still read a whole table through an index (a hash join
 * over every balance row or every live key, which the set path of authorizations did), so each
 * call must also read no more rows of a table than its items name: the ledger has ten times more
 * accounts than a batch touches.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import postgres from "postgres";
import { FUNCTION_KINDS, functionBatch } from "../../scripts/bench/function-items.js";
import { createFunctionDatabase, type FunctionDatabase } from "../support/function-database.js";
import { readsBetween, TABLE_READS_QUERY, tableReads, type TableReads } from "../support/table-reads.js";

let db: FunctionDatabase;
let sql: postgres.Sql;
const ACCOUNTS = 200;
/** Rows of one table a call of `size` items may read: a few per item (its accounts, payment, key, state, outbox row). */
const rowsRead = (size: number) => 8 * size + 8;

before(async () => {
  db = await createFunctionDatabase("plan-", ACCOUNTS);
  sql = db.sql;
  await sql`analyze`;
});
after(() => db.close());

/** This transaction's reading so far (test/support/table-reads.ts). */
const reads = async (tx: postgres.TransactionSql): Promise<TableReads> => tableReads(await tx.unsafe(TABLE_READS_QUERY));

/** The tables `fn` called with `items` scanned sequentially (name: scans) or read more than `limit` rows of (name: rows), and its outcomes. */
async function tablesScanned(fn: "ledger_apply" | "ledger_apply_atomic", items: object[], limit = Number.POSITIVE_INFINITY) {
  return sql.begin(async (tx) => {
    const before = await reads(tx);
    const [row] = await tx.unsafe<{ outcomes: { error?: unknown }[] }[]>(`select ${fn}($1::text::jsonb, 24) as outcomes`, [JSON.stringify(items)]);
    const after = await reads(tx);
    const scanned: string[] = [];
    const overRead: string[] = [];
    for (const [name, count] of [...readsBetween(before, after)].sort(([a], [b]) => a.localeCompare(b))) {
      if (count.scans > 0) scanned.push(`${name}: ${count.scans}`);
      if (count.rows > limit) overRead.push(`${name}: ${count.rows} rows`);
    }
    return { scanned, overRead, outcomes: row!.outcomes };
  }) as Promise<{ scanned: string[]; overRead: string[]; outcomes: { error?: unknown }[] }>;
}

it("the records reads build per row (ledger_payment_json, ledger_account_json), outside ledger_apply: no table is scanned", async () => {
  // A page of ListPayments or ListAccounts calls these once per row in a statement of its own, so
  // ledger_apply's setting does not reach them; their plans are kept for the session all the same.
  // First in the file: planned while payments is still small, as on a new ledger.
  const batch = functionBatch("capture", { prefix: "plan-", count: ACCOUNTS, hot: false }, 8, `plan-reads-${Date.now()}`);
  await sql`select ledger_apply(${JSON.stringify(batch.prepare)}::text::jsonb, 24)`;
  const paymentIds = batch.prepare.map((item) => (item as { paymentId: string }).paymentId);
  // The account rows as values, read by index: the statements below then read no table themselves
  // (PostgreSQL 15 may count a scan of an earlier transaction in pg_stat_xact_user_tables when its
  // statistics were not flushed yet, so none is made here either).
  const accountRows = await sql.begin(async (tx) => {
    await tx`set local enable_seqscan = off`;
    return (await tx<{ row: string }[]>`select a::text as row from accounts a where a.id like 'plan-%' order by a.id`).map((r) => r.row);
  });
  for (const round of [1, 2]) {
    const scanned = await sql.begin(async (tx) => {
      const payments = await tx`select ledger_payment_json(x) as payment from unnest(${paymentIds}::text[]) x`;
      const accounts = await tx`select ledger_account_json(x::accounts) as account from unnest(${accountRows}::text[]) x`;
      assert.equal(payments.filter((row) => row.payment !== null).length, paymentIds.length, `round ${round}: every payment found`);
      assert.equal(accounts.length, ACCOUNTS);
      return tx<{ name: string; scans: number }[]>`
        select relname as name, seq_scan::int as scans from pg_stat_xact_user_tables where seq_scan > 0 order by 1`;
    });
    assert.deepEqual(scanned.map((r) => `${r.name}: ${r.scans}`), [], `round ${round}`);
  }
});

for (const fn of ["ledger_apply", "ledger_apply_atomic"] as const) {
  for (const kind of FUNCTION_KINDS) {
    for (const size of [1, 4, 8]) {
      it(`${fn}, ${kind} x${size}: no table is scanned, none read beyond the rows its items name`, async () => {
        // Twice: the first call of the session plans, the second runs the kept plans.
        for (const round of [1, 2]) {
          const batch = functionBatch(kind, { prefix: "plan-", count: ACCOUNTS, hot: false }, size, `plan-${fn}-${kind}-${size}-${round}-${Date.now()}`);
          if (batch.prepare.length > 0) await sql`select ledger_apply(${JSON.stringify(batch.prepare)}::text::jsonb, 24)`;
          const { scanned, overRead, outcomes } = await tablesScanned(fn, batch.items, rowsRead(size));
          assert.deepEqual(outcomes.filter((o) => o.error !== undefined), []);
          assert.deepEqual(scanned, []);
          assert.deepEqual(overRead, [], `at most ${rowsRead(size)} rows of a table`);
        }
      });
    }
  }
}

it("the check sees a scan when a plan makes one (negative control)", async () => {
  // Plans that must scan, made on purpose in a transaction that rolls back. (Whether a plan from
  // small-table statistics scans depends on when autovacuum last analyzed, so the control forces
  // it; before the function's setting, every test above failed.)
  const scanned = await sql.begin(async (tx) => {
    await tx`alter function ledger_apply(jsonb, integer) set enable_seqscan = on set enable_indexscan = off set enable_bitmapscan = off`;
    const batch = functionBatch("authorize", { prefix: "plan-", count: ACCOUNTS, hot: false }, 1, `plan-neg-${Date.now()}`);
    const before = await reads(tx);
    await tx`select ledger_apply(${JSON.stringify(batch.items)}::text::jsonb, 24)`;
    const after = await reads(tx);
    const between = [...readsBetween(before, after).values()];
    const scans = between.reduce((sum, count) => sum + count.scans, 0);
    const mostRows = Math.max(0, ...between.map((count) => count.rows));
    throw Object.assign(new Error("roll back"), { scans, mostRows });
  }).catch((error: Error & { scans?: number; mostRows?: number }) => error);
  assert.ok(scanned.scans! > 0, "a scan made by a statement of ledger_apply is seen");
  assert.ok(scanned.mostRows! > rowsRead(1), `a whole table read is seen (${scanned.mostRows} rows)`);
  const [definition] = await sql<{ config: string[] }[]>`select proconfig as config from pg_proc where proname = 'ledger_apply'`;
  assert.deepEqual(definition!.config, ["enable_seqscan=off"], "rolled back");
});
