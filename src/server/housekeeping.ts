/**
 * Periodic clean-up next to live traffic: expired idempotency keys and outbox rows published
 * longer ago than the retention. Failures are logged and retried at the next tick.
 */
import type { Database } from "../db/client.js";
import type { Ledger } from "../ledger/ledger.js";
import { sweepExpiredKeys } from "../ledger/idempotency.js";
import { deletePublishedEvents } from "../outbox/outbox-retention.js";
import type { Logger } from "../telemetry/logger.js";

/** How often housekeeping runs. */
const INTERVAL_MS = 10 * 60 * 1000;

export interface HousekeepingOptions {
  outboxRetentionHours: number;
}

/** Runs one round of every clean-up; returns what each deleted. */
export async function runHousekeeping(db: Database, options: HousekeepingOptions) {
  return {
    idempotencyKeys: await sweepExpiredKeys(db),
    publishedEvents: await deletePublishedEvents(db, options.outboxRetentionHours),
  };
}

/** Starts the periodic rounds; returns the function that stops them. */
export function startHousekeeping(db: Database, options: HousekeepingOptions, logger: Logger): () => void {
  const timer = setInterval(() => {
    runHousekeeping(db, options)
      .then((deleted) => {
        if (deleted.idempotencyKeys + deleted.publishedEvents > 0) logger.info({ deleted }, "housekeeping");
      })
      .catch((error: unknown) => logger.warn({ err: error }, "housekeeping failed"));
  }, INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Releases expired holds every `intervalMs` (a round at a time: a slow round delays the next one
 * instead of overlapping it). Safe with several instances; see src/ledger/hold-expiry.ts.
 */
export function startHoldExpiry(ledger: Ledger, intervalMs: number, logger: Logger): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const round = () => {
    ledger
      .expireDueHolds()
      .then((expired) => {
        if (expired > 0) logger.info({ expired }, "expired holds released");
      })
      .catch((error: unknown) => logger.warn({ err: error }, "hold expiry failed"))
      .finally(() => {
        if (!stopped) (timer = setTimeout(round, intervalMs)).unref();
      });
  };
  (timer = setTimeout(round, intervalMs)).unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
