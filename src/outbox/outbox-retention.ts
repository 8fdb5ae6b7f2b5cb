/**
 * Retention of the transactional outbox: rows the relay has published are kept for a while (for
 * audits and replays by hand) and then deleted, so the table and its indexes stay small. Pending
 * and dead-lettered rows are never deleted here: they still need the relay or an operator.
 */
import { and, isNotNull, lt, sql, type SQL } from "drizzle-orm";
import { deleteInBatches } from "../db/batched-delete.js";
import type { Database } from "../db/client.js";
import { outbox } from "../db/schema.js";

/** The rows retention deletes: published more than `retentionHours` ago (found by outbox_published_idx). */
export function publishedBefore(retentionHours: number): SQL {
  return and(isNotNull(outbox.publishedAt), lt(outbox.publishedAt, sql`now() - make_interval(hours => ${retentionHours})`))!;
}

/** Deletes rows published more than `retentionHours` ago; returns how many. */
export function deletePublishedEvents(db: Database, retentionHours: number): Promise<number> {
  return deleteInBatches(db, outbox, publishedBefore(retentionHours));
}
