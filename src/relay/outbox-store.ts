/**
 * The relay's queries on the outbox table: claiming due rows, recording the outcome of a publish,
 * and measuring the backlog. All times come from the database clock (clock_timestamp()), so
 * several relay hosts with skewed clocks agree on what is due.
 */
import { and, asc, eq, inArray, isNull, lte, sql, type SQL } from "drizzle-orm";
import { alias, type AnyPgColumn } from "drizzle-orm/pg-core";
import type { Database, Transaction } from "../db/client.js";
import { queryRows } from "../db/query-rows.js";
import { outbox } from "../db/schema.js";

export type OutboxRow = typeof outbox.$inferSelect;

/** Neither published nor dead-lettered (the predicate of the partial indexes on the outbox). */
const isPending = (table: { publishedAt: AnyPgColumn; deadAt: AnyPgColumn }): SQL =>
  and(isNull(table.publishedAt), isNull(table.deadAt))!;

/**
 * Locks up to `limit` due rows for this transaction and returns them.
 *
 * Per-aggregate order across any number of relay instances rests on two rules:
 * 1. Only the oldest pending row of an aggregate is claimable (the subquery below). A later row of
 *    the same aggregate stays unclaimable until the earlier one is published or dead-lettered and
 *    that is committed, whoever holds it, however long it is in backoff.
 * 2. A row is marked published only after its delivery report, in the transaction that holds its
 *    lock. So when the next row of that aggregate becomes claimable, its predecessor is already
 *    acknowledged by the broker, and the key's messages reach their partition in outbox id order,
 *    which is commit order per aggregate (writers hold the aggregate's balance row lock).
 * `SKIP LOCKED` lets instances share the work: each skips the rows another one holds.
 * The price is one event per aggregate per batch; aggregates are accounts and payments, and a
 * batch spans many of them.
 *
 * "Oldest pending" is written as `id = (... order by id limit 1)` rather than NOT EXISTS: this
 * form is always a per-row index probe on (aggregate_id, id), whereas without fresh statistics
 * (a burst into a new table) the planner turned the anti-join into a scan of every pending row
 * per candidate: 0.5 s per batch at a 5,000-row backlog instead of 1 ms.
 *
 * Sorting is switched off for the claiming transaction: with a backlog the planner sorted every
 * pending row (whole rows, envelopes included, spilling to disk) to keep the first `limit`, a cost
 * that grows with the backlog (71 ms per claim at 12,000 pending rows, so a relay that fell behind
 * fell further behind: the benchmark's first batch row ended 9,000 to 10,000 events behind, p99
 * 17 s). Without a sort it walks outbox_pending_idx in order and stops at `limit`: 4.5 ms at the
 * same backlog, and the same at any size.
 */
export async function claimBatch(tx: Transaction, limit: number): Promise<OutboxRow[]> {
  await tx.execute(sql`set local enable_sort = off`);
  return claimQuery(tx, limit);
}

/** The claim itself (exported for the test that reads its plan); run it through claimBatch. */
export function claimQuery(tx: Transaction, limit: number) {
  const earlier = alias(outbox, "earlier");
  const oldestPendingOfAggregate = tx
    .select({ id: earlier.id })
    .from(earlier)
    .where(and(eq(earlier.aggregateId, outbox.aggregateId), isPending(earlier)))
    .orderBy(asc(earlier.id))
    .limit(1);
  return tx
    .select()
    .from(outbox)
    .where(
      and(
        isPending(outbox),
        lte(outbox.nextAttemptAt, sql`clock_timestamp()`),
        sql`${outbox.id} = (${oldestPendingOfAggregate})`,
      ),
    )
    .orderBy(asc(outbox.nextAttemptAt), asc(outbox.id))
    .limit(limit)
    .for("update", { of: outbox, skipLocked: true });
}

/**
 * The commit time of the transaction that wrote the row being updated: in an UPDATE, xmin is the
 * old row version's, i.e. the writer's (claiming locks rows without a new version). Only when the
 * server tracks commit timestamps; without that setting the function would raise.
 */
const COMMITTED_AT = sql.raw(
  `case when current_setting('track_commit_timestamp') = 'on' then pg_xact_commit_timestamp(outbox.xmin) end`,
);

/**
 * Marks rows whose delivery was acknowledged by the broker, and tells whether any of their
 * aggregates has a later row pending: publishing made it claimable, and no notification will say
 * so (it was written earlier), so the relay must claim again at once rather than wait.
 */
export async function markPublished(tx: Transaction, ids: bigint[]): Promise<{ successorsPending: boolean }> {
  if (ids.length === 0) return { successorsPending: false };
  // The outer query reads the snapshot before the update: a later row (higher id) of a published
  // row's aggregate that is pending there is still pending (one row per aggregate is claimed).
  const [row] = await queryRows<{ more: boolean }>(tx, sql`
    with done as (
      update ${outbox} set published_at = clock_timestamp(), committed_at = ${COMMITTED_AT}
       where ${inArray(outbox.id, ids)}
      returning ${outbox.id} as id, ${outbox.aggregateId} as aggregate_id
    )
    select exists (
      select 1 from done d join ${outbox} o on o.aggregate_id = d.aggregate_id and o.id > d.id
      where o.published_at is null and o.dead_at is null
    ) as more`);
  return { successorsPending: row?.more === true };
}

export interface FailedDelivery {
  id: bigint;
  /** When to try again, counted from now on the database clock. */
  retryInMs: number;
  error: string;
}

/** Counts a failed attempt on each row and schedules its next one; one statement for the batch. */
export async function markFailed(tx: Transaction, failures: FailedDelivery[]): Promise<void> {
  if (failures.length === 0) return;
  const values = sql.join(
    failures.map((f) => sql`(${f.id}::bigint, ${Math.round(f.retryInMs)}::double precision, ${f.error}::text)`),
    sql`, `,
  );
  await tx.execute(sql`
    update ${outbox} set
      attempts = ${outbox.attempts} + 1,
      next_attempt_at = clock_timestamp() + failed.delay_ms * interval '1 millisecond',
      last_error = failed.error
    from (values ${values}) as failed(id, delay_ms, error)
    where ${outbox.id} = failed.id`);
}

/** Marks a row dead after its dead-letter record was delivered. */
export async function markDead(tx: Transaction, id: bigint, error: string): Promise<void> {
  await tx
    .update(outbox)
    .set({ deadAt: sql`clock_timestamp()`, attempts: sql`${outbox.attempts} + 1`, lastError: error })
    .where(eq(outbox.id, id));
}

export interface BacklogSample {
  /** Rows neither published nor dead. */
  pending: number;
  /** Age of the oldest of them in seconds; 0 when there is none. */
  oldestAgeSeconds: number;
}

/** Measures the backlog (served by the partial index on pending rows). */
export async function sampleBacklog(db: Database): Promise<BacklogSample> {
  const [row] = await db
    .select({
      pending: sql<number>`count(*)::int`,
      oldestAgeSeconds: sql<number>`coalesce(extract(epoch from clock_timestamp() - min(${outbox.createdAt})), 0)::float8`,
    })
    .from(outbox)
    .where(isPending(outbox));
  return { pending: Number(row?.pending ?? 0), oldestAgeSeconds: Number(row?.oldestAgeSeconds ?? 0) };
}

/**
 * Milliseconds until the earliest row waiting for its backoff becomes due, or null if none waits.
 * Rows already due but not claimable (behind an earlier event of their aggregate, or held by
 * another relay) do not count: waking up for them would spin on empty claims.
 */
export async function nextRetryInMs(db: Database): Promise<number | null> {
  const [row] = await db
    .select({ ms: sql<number | null>`(extract(epoch from min(${outbox.nextAttemptAt}) - clock_timestamp()) * 1000)::float8` })
    .from(outbox)
    .where(and(isPending(outbox), sql`${outbox.nextAttemptAt} > clock_timestamp()`));
  const ms = row?.ms;
  return ms === null || ms === undefined ? null : Math.max(0, Number(ms));
}
