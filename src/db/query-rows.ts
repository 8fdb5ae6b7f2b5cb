/** Raw SQL reads that behave the same on both backends. */
import type { SQL } from "drizzle-orm";
import type { Database } from "./client.js";

/**
 * Runs `query` and returns its rows as plain objects: postgres.js answers with an array, PGlite
 * with `{ rows }`. Select bigint and timestamp columns as text: the two drivers decode them
 * differently, text is exact on both.
 */
export async function queryRows<T>(db: Pick<Database, "execute">, query: SQL): Promise<T[]> {
  const result = await db.execute(query);
  return (Array.isArray(result) ? result : (result as unknown as { rows: unknown[] }).rows) as T[];
}
