/**
 * Opens the ledger's database: PostgreSQL through postgres.js when a URL is configured, otherwise
 * embedded PGlite (WASM PostgreSQL) with its data under a local directory. Both are driven through
 * the same Drizzle API and the same migrations.
 */
import { mkdirSync } from "node:fs";
import type { PGlite } from "@electric-sql/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { redactUrl } from "../telemetry/logger.js";
import { initialiseInChild } from "./pglite-init.js";
import { lockDataDir } from "./pglite-lock.js";
import { pgliteStartOptions } from "./pglite-options.js";
import * as schema from "./schema.js";

/** The Drizzle database type shared by both backends. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

/** A transaction handle as passed to `db.transaction` callbacks. */
export type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

/** An open database and what is needed to run and close it. */
export interface DatabaseHandle {
  readonly db: Database;
  readonly backend: "postgres" | "pglite";
  /** Where the data lives, safe to log (passwords masked). */
  readonly location: string;
  /** The postgres.js client (postgres backend only), for LISTEN/NOTIFY and dedicated sessions. */
  readonly postgresClient?: postgres.Sql;
  /** The PGlite instance (pglite backend only). */
  readonly pglite?: PGlite;
  /**
   * Checks the database on a connection of its own (postgres backend), so that a health check does
   * not queue behind busy pool connections; absent for PGlite, which has no connections to lose.
   */
  readonly ping?: () => Promise<unknown>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** PostgreSQL URL; when absent the embedded PGlite backend is used. */
  url?: string;
  /** Connection pool size (postgres backend). */
  poolSize: number;
  /** Data directory (pglite backend). */
  pgliteDataDir: string;
}

/**
 * Pause before a pool connection reconnects, in seconds. postgres.js's default grows as 3^n / 100 s
 * with a retry count shared by the whole pool, up to 20 s: after a 2 s PostgreSQL outage under load
 * (every connection failing a few times) the pool sat idle for about 20 s with the database back.
 * Capped at 250 ms, a reconnect is cheap and the database is used again within the readiness second.
 */
function reconnectDelaySeconds(retries: number): number {
  return Math.min(0.025 * 2 ** retries, 0.25);
}

/**
 * Seconds a new connection may take before the attempt fails (postgres.js's default is 30). With a
 * multi-host DATABASE_URL a dead host that does not refuse (a machine gone, packets dropped) would
 * hold each pool connection that long before it tries the next host.
 */
const CONNECT_TIMEOUT_SECONDS = 5;

/**
 * The service's sessions run without JIT compilation: every statement it sends finds its rows by
 * key and runs in milliseconds, but a plan whose row estimate is far off can pass jit_above_cost,
 * and compiling it took 150-270 ms for a 3 ms ListPayments page (2026-12-08, 50,000 payments).
 */
const SESSION_SETTINGS = { jit: "off" };

/**
 * Opens the configured backend. Migrations are applied separately (see migrate.ts).
 *
 * High availability: `url` may name several hosts with target_session_attrs=read-write (config
 * insists on it then). Every new connection, the pool's, the health probe's and the LISTEN
 * connection's, then goes to the host that accepts writes: postgres.js tries the hosts in turn and
 * drops a session on a server in recovery (patched to libpq's rule, patches/postgres+3.4.9.patch).
 * While no host is a primary (a failover in progress) a connection attempt fails with
 * CONNECTION_NOT_READ_WRITE, which the API maps to `unavailable`, and the next query tries again.
 */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) {
    const client = postgres(options.url, {
      max: options.poolSize,
      backoff: reconnectDelaySeconds,
      connect_timeout: CONNECT_TIMEOUT_SECONDS,
      onnotice: () => {},
      connection: { application_name: "payment-ledger", ...SESSION_SETTINGS },
    });
    // connect_timeout is in seconds: a ping waiting longer already counts as a failure.
    const probe = postgres(options.url, {
      max: 1,
      connect_timeout: 1,
      // Each ping may reconnect at once: readiness must turn true within 1 s of the database's return.
      backoff: () => 0,
      onnotice: () => {},
      connection: { application_name: "payment-ledger-health" },
    });
    return {
      db: drizzlePostgres({ client, schema }),
      backend: "postgres",
      location: redactUrl(options.url),
      postgresClient: client,
      ping: () => probe`select 1`,
      close: async () => {
        await Promise.all([client.end({ timeout: 5 }), probe.end({ timeout: 1 })]);
      },
    };
  }
  mkdirSync(options.pgliteDataDir, { recursive: true });
  // Loaded only when used: importing the WASM PostgreSQL adds about 40 MB of RSS to a process,
  // which a service running on a PostgreSQL URL would carry for nothing.
  const [{ PGlite: PGliteClass }, { drizzle: drizzlePglite }] = await Promise.all([
    import("@electric-sql/pglite"),
    import("drizzle-orm/pglite"),
  ]);
  // One process per data directory (pglite-lock.ts): a second one is refused, naming the first.
  const lock = lockDataDir(options.pgliteDataDir);
  const startOptions = pgliteStartOptions(PGliteClass.defaultStartParams);
  // A new directory is initialised in a child process (pglite-init.ts: initdb's memory leaves with it).
  const pglite = await initialiseInChild(options.pgliteDataDir, startOptions)
    .then(() => PGliteClass.create(options.pgliteDataDir, startOptions))
    .catch((error: unknown) => {
      lock.release();
      throw error;
    });
  return {
    db: drizzlePglite({ client: pglite, schema }),
    backend: "pglite",
    location: options.pgliteDataDir,
    pglite,
    close: () => pglite.close().finally(lock.release),
  };
}
