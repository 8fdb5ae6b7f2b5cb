/**
 * A fresh database for tests that call ledger_apply directly with the benchmark's items
 * (scripts/bench/function-items.ts): `count` funded accounts named `<prefix>1..count`, the funding
 * account deposits and payouts go through, and one connection of its own.
 */
import postgres from "postgres";
import { BENCH_FUNDING_ACCOUNT } from "../../scripts/bench/function-items.js";
import { seedAccountsInSql } from "../../scripts/bench/seed.js";
import { createTestDatabase, type TestDatabase } from "./database.js";

export interface FunctionDatabase {
  database: TestDatabase;
  /** One connection: what a session-level setting or statistic applies to. */
  sql: postgres.Sql;
  /** Ends the connection and drops the database. */
  close(): Promise<void>;
}

export async function createFunctionDatabase(prefix: string, count: number): Promise<FunctionDatabase> {
  const database = await createTestDatabase(2);
  const sql = postgres(database.url, { max: 1, onnotice: () => {} });
  await seedAccountsInSql(database.url, prefix, count, 1_000_000n);
  const open = { kind: "open", accountId: BENCH_FUNDING_ACCOUNT, currency: "EUR", displayName: "Funding EUR", funding: "true", at: new Date().toISOString(), eventId: "e-funding", traceparent: null };
  await sql`select ledger_apply(${JSON.stringify([open])}::text::jsonb, 24)`;
  return {
    database,
    sql,
    async close() {
      await sql.end();
      await database.drop();
    },
  };
}
