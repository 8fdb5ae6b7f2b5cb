/**
 * Applies the schema migrations in drizzle/ (drizzle-kit, append-only history), then re-applies
 * every database function source file in src/ledger/sql/ and src/relay/sql/ (in file-name order). Functions are
 * code, not history: each file is `CREATE OR REPLACE` and is the one home of the rules it holds, so
 * a rule change is an edit of one file, picked up by the next migrate.
 *
 * On PostgreSQL a session-level advisory lock is held on a dedicated connection meanwhile, because
 * Drizzle's migrator takes no lock of its own and several service instances may start at once.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import type { PgliteDatabase } from "drizzle-orm/pglite";
import type * as schema from "./schema.js";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import type { DatabaseHandle } from "./client.js";

const migrationsFolder = fileURLToPath(new URL("../../drizzle", import.meta.url));
/**
 * The database functions, each folder next to the TypeScript that calls it: the ledger's money
 * rules, then the relay's statements.
 */
const functionFolders = ["../ledger/sql", "../relay/sql"].map((folder) => fileURLToPath(new URL(folder, import.meta.url)));

/** Arbitrary constant shared by every instance: "ledger migrations". */
const MIGRATION_LOCK_ID = 7_420_315_001;

/** The function source files, in the order they are applied. */
export function functionSources(): { name: string; sql: string }[] {
  return functionFolders.flatMap((folder) =>
    readdirSync(folder)
      .filter((name) => name.endsWith(".sql"))
      .sort()
      .map((name) => ({ name, sql: readFileSync(join(folder, name), "utf8") })),
  );
}

/** Brings the schema and the database functions up to date. Safe to call from several processes at once. */
export async function runMigrations(handle: DatabaseHandle): Promise<void> {
  if (handle.backend === "pglite") {
    // Imported here like the PGlite client itself (see client.ts).
    const { migrate: migratePglite } = await import("drizzle-orm/pglite/migrator");
    await migratePglite(handle.db as PgliteDatabase<typeof schema>, { migrationsFolder });
    for (const source of functionSources()) await handle.pglite!.exec(source.sql);
    return;
  }
  const client = handle.postgresClient!;
  const session = await client.reserve();
  try {
    await session`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    await migratePostgres(handle.db as PostgresJsDatabase<typeof schema>, { migrationsFolder });
    // Simple query protocol: a file may hold several statements.
    for (const source of functionSources()) await session.unsafe(source.sql).simple();
  } finally {
    await session`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.catch(() => {});
    session.release();
  }
}
