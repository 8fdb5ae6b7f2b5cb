/**
 * A fresh, migrated PostgreSQL database per test file, created on the server named by
 * DATABASE_URL (started by scripts/test.sh) and dropped afterwards, so files run in parallel.
 */
import postgres from "postgres";
import { openDatabase, type DatabaseHandle } from "../../src/db/client.js";
import { runMigrations } from "../../src/db/migrate.js";

export interface TestDatabase {
  /** URL of the fresh database. */
  url: string;
  handle: DatabaseHandle;
  /** Closes the handle and drops the database. */
  drop(): Promise<void>;
}

/** The admin URL of the test server; fails clearly when the harness did not provide one. */
export function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set: run the tests with `npm test` (it starts PostgreSQL)");
  return url;
}

export async function createTestDatabase(poolSize = 20): Promise<TestDatabase> {
  const name = `ledger_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  const handle = await openDatabase({ url: url.toString(), poolSize, pgliteDataDir: "" });
  await runMigrations(handle);
  return {
    url: url.toString(),
    handle,
    async drop() {
      await handle.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
