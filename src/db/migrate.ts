/**
 * Applies the migrations in drizzle/. On PostgreSQL a session-level advisory lock is held on a
 * dedicated connection meanwhile, because Drizzle's migrator takes no lock of its own and several
 * service instances may start at once.
 */
import { fileURLToPath } from "node:url";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import type { PgliteDatabase } from "drizzle-orm/pglite";
import type * as schema from "./schema.js";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import type { DatabaseHandle } from "./client.js";

const migrationsFolder = fileURLToPath(new URL("../../drizzle", import.meta.url));

/** Arbitrary constant shared by every instance: "ledger migrations". */
const MIGRATION_LOCK_ID = 7_420_315_001;

/** Brings the schema up to date. Safe to call from several processes at once. */
export async function runMigrations(handle: DatabaseHandle): Promise<void> {
  if (handle.backend === "pglite") {
    // Imported here like the PGlite client itself (see client.ts).
    const { migrate: migratePglite } = await import("drizzle-orm/pglite/migrator");
    await migratePglite(handle.db as PgliteDatabase<typeof schema>, { migrationsFolder });
    return;
  }
  const client = handle.postgresClient!;
  const session = await client.reserve();
  try {
    await session`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    await migratePostgres(handle.db as PostgresJsDatabase<typeof schema>, { migrationsFolder });
  } finally {
    await session`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.catch(() => {});
    session.release();
  }
}
