/**
 * Bounded retry of database work that failed only because of concurrency: serialization failures
 * and deadlocks. Each attempt reruns the whole transaction, so it must be self-contained.
 */
import { backoffDelay } from "../retry/backoff.js";
import { LedgerError, LedgerErrorCode } from "./ledger-error.js";

/** SQLSTATEs worth retrying: serialization_failure, deadlock_detected. */
const TRANSIENT_CODES = new Set(["40001", "40P01"]);

/** Returns the SQLSTATE of a driver error, looking through Drizzle's wrapping. */
export function sqlState(error: unknown): string | undefined {
  let current: unknown = error;
  while (current && typeof current === "object") {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export interface RetryOptions {
  attempts: number;
  /** Base delay; after failed attempt n the wait is a random time up to base * 2^(n-1) (src/retry/backoff.ts). */
  baseDelayMs: number;
}

/** At most 10 + 20 + 40 + 80 ms of waiting over five attempts: contention clears within milliseconds. */
const DEFAULTS: RetryOptions = { attempts: 5, baseDelayMs: 10 };

/** Runs `work`, retrying transient failures; gives up with CONTENTION after the last attempt. */
export async function retryTransient<T>(work: () => Promise<T>, options: RetryOptions = DEFAULTS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const state = sqlState(error);
      if (!state || !TRANSIENT_CODES.has(state)) throw error;
      if (attempt >= options.attempts) {
        throw new LedgerError(LedgerErrorCode.CONTENTION, "the ledger is busy with conflicting updates: retry the request");
      }
      const delay = backoffDelay({ baseMs: options.baseDelayMs, maxMs: options.baseDelayMs * 2 ** 10 }, attempt);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
