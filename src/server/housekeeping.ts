/**
 * Periodic clean-up next to live traffic: expired idempotency keys and outbox rows published
 * longer ago than the retention. Failures are logged and retried at the next tick.
 */
import type { Database } from "../db/client.js";
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
