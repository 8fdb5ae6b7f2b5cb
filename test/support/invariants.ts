/** Checks the ledger's accounting invariants straight from the tables. */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import type { Database } from "../../src/db/client.js";

type Row = Record<string, unknown>;

/** Runs raw SQL and returns plain row objects, whichever driver is underneath. */
export async function rows(db: Database, query: ReturnType<typeof sql>): Promise<Row[]> {
  const result = await db.execute(query);
  return Array.isArray(result) ? [...(result as Row[])] : (result as unknown as { rows: Row[] }).rows;
}

/**
 * - the entries of every currency sum to zero (double entry);
 * - every balance equals the sum of its account's entries;
 * - no customer balance is negative;
 * - every transfer has exactly two entries of opposite sign.
 */
export async function assertLedgerInvariants(db: Database): Promise<void> {
  const unbalanced = await rows(db, sql`select currency, sum(amount_cents)::text as total from ledger_entries group by currency having sum(amount_cents) <> 0`);
  assert.deepEqual(unbalanced, [], "entries of each currency sum to 0");

  const drifted = await rows(db, sql`
    select b.account_id, b.available_cents::text as balance, coalesce(sum(e.amount_cents), 0)::text as entries
    from balances b left join ledger_entries e on e.account_id = b.account_id
    group by b.account_id, b.available_cents
    having b.available_cents <> coalesce(sum(e.amount_cents), 0)`);
  assert.deepEqual(drifted, [], "every balance equals the sum of its entries");

  const negative = await rows(db, sql`select account_id from balances where not allow_negative and available_cents < 0`);
  assert.deepEqual(negative, [], "no customer balance is negative");

  const lopsided = await rows(db, sql`
    select transfer_id from ledger_entries group by transfer_id
    having count(*) <> 2 or sum(amount_cents) <> 0 or min(amount_cents) >= 0`);
  assert.deepEqual(lopsided, [], "every transfer has one debit and one credit of the same amount");
}

/** Counts rows of a table (for "nothing was written" checks). */
export async function countRows(db: Database, table: string): Promise<number> {
  const [row] = await rows(db, sql.raw(`select count(*)::int as n from ${table}`));
  return Number(row!.n);
}
