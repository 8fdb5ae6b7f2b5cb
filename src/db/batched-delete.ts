/**
 * Deletes the rows of a table that match a condition, a bounded batch per statement, so that
 * housekeeping never holds many row locks or one long transaction next to live traffic.
 */
import { sql, type SQL } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import type { Database } from "./client.js";

/** The query that picks one batch's rows (exported so tests can check its plan). */
export function batchOfRows(table: PgTable, where: SQL, batchSize = 1000): SQL {
  return sql`select ctid from ${table} where ${where} limit ${batchSize}`;
}

/** Deletes every row of `table` matching `where`, `batchSize` at a time; returns how many. */
export async function deleteInBatches(db: Database, table: PgTable, where: SQL, batchSize = 1000): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await db
      .delete(table)
      .where(sql`ctid in (${batchOfRows(table, where, batchSize)})`)
      .returning({ one: sql`1` });
    total += deleted.length;
    if (deleted.length < batchSize) return total;
  }
}
