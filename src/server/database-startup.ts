/**
 * Start-up against a database that may not be there yet (a supervisor starting everything at
 * once, PostgreSQL restarting): migrations are retried with bounded, logged, exponential backoff
 * instead of the process exiting at the first ECONNREFUSED and crash-looping. Readiness stays 503
 * meanwhile and API calls get UNAVAILABLE (`startupGate`). After DB_STARTUP_TIMEOUT_MS it gives up
 * with a message that names the setting.
 */
import type { Interceptor } from "@connectrpc/connect";
import type { DatabaseHandle } from "../db/client.js";
import { runMigrations } from "../db/migrate.js";
import { databaseUnavailable, isDatabaseUnavailable } from "../ledger/ledger-error.js";
import type { Logger } from "../telemetry/logger.js";

/** First pause between attempts; doubles up to MAX_DELAY_MS. */
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 2_000;

/** Thrown when the database stayed unreachable for the whole start-up bound. */
export class DatabaseStartupError extends Error {
  override readonly name = "DatabaseStartupError";
}

/** Runs the migrations once the database answers; retries only "unreachable" failures. */
export async function migrateWhenReachable(database: DatabaseHandle, timeoutMs: number, logger: Logger): Promise<void> {
  const started = performance.now();
  for (let attempt = 1, delay = FIRST_DELAY_MS; ; attempt++, delay = Math.min(delay * 2, MAX_DELAY_MS)) {
    try {
      await runMigrations(database);
      if (attempt > 1) logger.info({ attempt, waitedMs: Math.round(performance.now() - started) }, "database reachable: migrations applied");
      return;
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      const waited = performance.now() - started;
      if (waited + delay > timeoutMs) {
        throw new DatabaseStartupError(
          `database ${database.location} unreachable for ${Math.round(waited)} ms (${describe(error)}); ` +
            `gave up after DB_STARTUP_TIMEOUT_MS=${timeoutMs}`,
        );
      }
      logger.warn({ attempt, retryInMs: delay, reason: describe(error) }, "database unreachable at start-up: waiting");
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** API calls before the migrations ran get UNAVAILABLE (retryable), not a missing-table INTERNAL. */
export function startupGate(isReady: () => boolean, gated: ReadonlySet<string>): Interceptor {
  return (next) => async (request) => {
    if (!isReady() && gated.has(request.service.typeName)) throw databaseUnavailable();
    return next(request);
  };
}

function describe(error: unknown): string {
  for (let current = error; current && typeof current === "object"; current = (current as { cause?: unknown }).cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return `${code}: ${(current as Error).message}`;
  }
  return error instanceof Error ? error.message : String(error);
}
