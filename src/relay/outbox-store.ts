/**
 * The relay's access to the outbox: one batch is one transaction of four short statements in three
 * round trips, whatever its size: BEGIN, the claim (`outbox_claim`, src/relay/sql/outbox-relay.sql),
 * then the outcome of every row (`outbox_finish`) sent together with the COMMIT. The ordering rules the claim keeps are
 * stated next to it in that file. All times come from the database clock, so several relay hosts
 * with skewed clocks agree on what is due.
 *
 * The rows and the outcome cross to SQL as declared here (TypeBox); test/relay/outbox-store.test.ts
 * checks the functions' answers against these declarations. Each statement is a function call, so
 * building it costs little: under a trickle of single payments the relay's cost per event was
 * mostly its per-batch statements and building them (docs/relay.md).
 */
import { sql, type SQL } from "drizzle-orm";
import { Type, type Static } from "typebox";
import type { DatabaseHandle } from "../db/client.js";
import { preparedOn, queryPrepared } from "../db/prepared.js";
import { queryRows } from "../db/query-rows.js";

/** A claimed outbox row as outbox_claim returns it (int8 as text, the envelope as JSON text). */
export const ClaimedRow = Type.Object({
  id: Type.String({ pattern: "^[0-9]+$" }),
  event_id: Type.String(),
  event_type: Type.String(),
  aggregate_type: Type.String(),
  aggregate_id: Type.String(),
  envelope: Type.String(),
  traceparent: Type.Union([Type.String(), Type.Null()]),
  created_at_ms: Type.Number(),
  attempts: Type.Integer({ minimum: 0 }),
});
export type ClaimedRow = Static<typeof ClaimedRow>;

/** What outbox_finish records: every claimed row appears in exactly one list, or in none (left as it was). */
export const BatchOutcome = Type.Object({
  published: Type.Array(Type.String()),
  failed: Type.Array(Type.Object({ id: Type.String(), retryInMs: Type.Number({ minimum: 0 }), error: Type.String() })),
  dead: Type.Array(Type.Object({ id: Type.String(), error: Type.String() })),
});
export type BatchOutcome = Static<typeof BatchOutcome>;

/** outbox_finish's answer. */
export const FinishResult = Type.Object({
  successors_pending: Type.Boolean(),
  next_retry_ms: Type.Union([Type.Number(), Type.Null()]),
});
export type FinishResult = Static<typeof FinishResult>;

/** An outbox row as the relay publishes it. */
export interface OutboxRow {
  id: bigint;
  eventId: string;
  eventType: string;
  aggregateType: string;
  aggregateId: string;
  /** The envelope as JSON text: the message value. */
  value: string;
  traceparent: string | null;
  /** When the row was written, in epoch milliseconds. */
  createdAtMs: number;
  attempts: number;
}

/** One claiming transaction: `claim` once, then `finish` once; leaving without `finish` rolls back. */
export interface ClaimSession {
  claim(limit: number): Promise<OutboxRow[]>;
  /**
   * Records `outcome` as the transaction's last statement. Returned from the batch's function
   * without being awaited, it goes out in one write with the COMMIT (a round trip less per batch);
   * await it after the batch has resolved. If it fails, PostgreSQL turns that COMMIT into a
   * rollback and the promise rejects: nothing of the batch is recorded.
   */
  finish(outcome: BatchOutcome): Promise<{ successorsPending: boolean; nextRetryInMs: number | null }>;
}

export interface BacklogSample {
  /** Rows neither published nor dead. */
  pending: number;
  /** Age of the oldest of them in seconds; 0 when there is none. */
  oldestAgeSeconds: number;
}

/** The relay's statements on one database. */
export interface OutboxStore {
  /** Runs `fn` in one claiming transaction. */
  batch<T>(fn: (session: ClaimSession) => Promise<T>): Promise<T>;
  /** Milliseconds until the earliest row in backoff is due; null when none waits. */
  nextRetryInMs(): Promise<number | null>;
  /** Pending rows and the age of the oldest (served by the partial index on pending rows). */
  backlog(): Promise<BacklogSample>;
}

const BACKLOG = `select count(*)::int as pending,
  coalesce(extract(epoch from clock_timestamp() - min(created_at)), 0)::float8 as age
  from outbox where published_at is null and dead_at is null`;

/**
 * The store over `handle`: each batch one transaction of the database's own driver. On PostgreSQL
 * that is postgres.js's `begin` with prepared statements: through drizzle's transaction and
 * unnamed statements, an empty batch cost the relay 1.1 ms of CPU against 0.4 ms (docs/relay.md).
 * `begin` rejects as soon as its connection closes (a primary failover mid-batch); a connection
 * reserved by hand did not, and the relay stalled silently after failovers in the failover test.
 */
export function outboxStore(handle: DatabaseHandle): OutboxStore {
  const db = handle.db;
  const client = handle.postgresClient;
  const session = (run: <T>(query: SQL) => Promise<T[]>, sent: Promise<unknown>[]): ClaimSession => ({
    async claim(limit) {
      return (await run<ClaimedRow>(sql`select * from outbox_claim(${limit}::int)`)).map(toOutboxRow);
    },
    finish(outcome) {
      const answer = run<FinishResult>(sql`select * from outbox_finish(${JSON.stringify(outcome)}::jsonb)`).then((rows) => finishResult(rows[0]));
      // Awaited by the caller only after the COMMIT: marked handled so that a failure in between
      // is not an unhandled rejection (the caller still sees it).
      answer.catch(() => {});
      sent.push(answer);
      return answer;
    },
  });
  return {
    batch: client
      ? (fn) => client.begin((tx) => fn(session((query) => preparedOn(tx, db, query), []))) as Promise<Awaited<ReturnType<typeof fn>>>
      : // drizzle's transaction on PGlite: the outcome is awaited before its COMMIT, and a failed one rolls back.
        (fn) =>
          db.transaction(async (tx) => {
            const sent: Promise<unknown>[] = [];
            const result = await fn(session((query) => queryRows(tx, query), sent));
            await Promise.all(sent);
            return result;
          }),
    async nextRetryInMs() {
      const [row] = await queryPrepared<{ ms: number | null }>(db, sql`select outbox_next_retry_ms() as ms`);
      return row?.ms ?? null;
    },
    async backlog() {
      const [row] = await queryRows<{ pending: number; age: number }>(db, sql.raw(BACKLOG));
      return { pending: Number(row?.pending ?? 0), oldestAgeSeconds: Number(row?.age ?? 0) };
    },
  };
}

function toOutboxRow(row: ClaimedRow): OutboxRow {
  return {
    id: BigInt(row.id),
    eventId: row.event_id,
    eventType: row.event_type,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    value: row.envelope,
    traceparent: row.traceparent,
    createdAtMs: Math.trunc(row.created_at_ms),
    attempts: row.attempts,
  };
}

function finishResult(row: FinishResult | undefined): { successorsPending: boolean; nextRetryInMs: number | null } {
  return { successorsPending: row?.successors_pending === true, nextRetryInMs: row?.next_retry_ms ?? null };
}
