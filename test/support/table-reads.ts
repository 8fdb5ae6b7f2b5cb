/**
 * What a statement read of each table, from pg_stat_xact_user_tables: the counts of the current
 * transaction. PostgreSQL 15 may include an earlier transaction's counts that were not flushed
 * yet, so a test takes two readings in one transaction and compares them (`readsBetween`).
 */

/** Per table: sequential scans, and rows read sequentially or through an index. */
export type TableReads = Map<string, { scans: number; rows: number }>;

/** The query of one reading; run it with any client inside the transaction being measured. */
export const TABLE_READS_QUERY = `select relname as name, seq_scan::int as scans, (seq_tup_read + coalesce(idx_tup_fetch, 0))::int as rows
  from pg_stat_xact_user_tables`;

/** One reading, from the rows of TABLE_READS_QUERY. */
export function tableReads(rows: readonly unknown[]): TableReads {
  return new Map((rows as { name: string; scans: number; rows: number }[]).map((r) => [r.name, { scans: r.scans, rows: r.rows }]));
}

/** What happened between two readings, per table that was scanned or read. */
export function readsBetween(before: TableReads, after: TableReads): TableReads {
  const between: TableReads = new Map();
  for (const [name, count] of after) {
    const earlier = before.get(name) ?? { scans: 0, rows: 0 };
    const change = { scans: count.scans - earlier.scans, rows: count.rows - earlier.rows };
    if (change.scans > 0 || change.rows > 0) between.set(name, change);
  }
  return between;
}
