/**
 * The relay's access to the outbox: one batch is one transaction of four short statements, whatever
 * its size: BEGIN, the claim (`outbox_claim`, src/relay/sql/outbox-relay.sql), the outcome of every
 * row (`outbox_finish`), COMMIT. The ordering rules the claim keeps are
 * stated next to it in that file. All times come from the database clock, so several relay hosts
 * with skewed clocks agree on what is due.
 *
 * The rows and the outcome cross to SQL as declared here (TypeBox); test/relay/outbox-store.test.ts
 * checks the functions' answers against these declarations. The statements go to the driver
 * directly rather than through Drizzle: under a trickle of single payments the relay's cost per
 * event was mostly its per-batch statements and building them (docs/relay.md).
 */
import { Type, type Static } from "typebox";
import type { DatabaseHandle } from "../db/client.js";

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
  createdAt: Date;
  attempts: number;
}

/** One claiming transaction: `claim` once, then `finish` once; leaving without `finish` rolls back. */
export interface ClaimSession {
  claim(limit: number): Promise<OutboxRow[]>;
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

type Query = <R>(text: string, params?: unknown[]) => Promise<R[]>;

const CLAIM = "select * from outbox_claim($1)";
const FINISH = "select * from outbox_finish($1::jsonb)";
const NEXT_RETRY = "select outbox_next_retry_ms() as ms";
const BACKLOG = `select count(*)::int as pending,
  coalesce(extract(epoch from clock_timestamp() - min(created_at)), 0)::float8 as age
  from outbox where published_at is null and dead_at is null`;

/** The store over `handle`: a reserved connection on PostgreSQL, PGlite's own transactions otherwise. */
export function outboxStore(handle: DatabaseHandle): OutboxStore {
  const query: Query = handle.postgresClient
    ? (text, params = []) => handle.postgresClient!.unsafe(text, params as never[]) as unknown as Promise<never[]>
    : async (text, params = []) => (await handle.pglite!.query(text, params)).rows as never[];
  return {
    batch: handle.postgresClient ? (fn) => postgresBatch(handle.postgresClient!, fn) : (fn) => pgliteBatch(handle, fn),
    async nextRetryInMs() {
      const [row] = await query<{ ms: number | null }>(NEXT_RETRY);
      return row?.ms ?? null;
    },
    async backlog() {
      const [row] = await query<{ pending: number; age: number }>(BACKLOG);
      return { pending: Number(row?.pending ?? 0), oldestAgeSeconds: Number(row?.age ?? 0) };
    },
  };
}

/**
 * A reserved connection for the transaction, one statement at a time. (BEGIN pipelined with the
 * claim and the outcome with COMMIT saved two round trips, but with it the relay stopped without
 * an error after a primary failover in 2 of 5 runs of test/chaos/failover.test.ts; a connection
 * dying between two pipelined statements is the suspect. Sequential, the runs passed.)
 */
async function postgresBatch<T>(client: NonNullable<DatabaseHandle["postgresClient"]>, fn: (s: ClaimSession) => Promise<T>): Promise<T> {
  const connection = await client.reserve();
  let open = false;
  try {
    const session: ClaimSession = {
      async claim(limit) {
        open = true;
        await connection.unsafe("begin");
        const rows = await connection.unsafe(CLAIM, [limit]);
        return (rows as unknown as ClaimedRow[]).map(toOutboxRow);
      },
      async finish(outcome) {
        const rows = await connection.unsafe(FINISH, [JSON.stringify(outcome)]);
        open = false;
        await connection.unsafe("commit");
        return finishResult((rows as unknown as FinishResult[])[0]);
      },
    };
    return await fn(session);
  } finally {
    if (open) await connection.unsafe("rollback").catch(() => {});
    connection.release();
  }
}

/** PGlite runs one statement at a time: its transaction() keeps the service's statements out meanwhile. */
function pgliteBatch<T>(handle: DatabaseHandle, fn: (s: ClaimSession) => Promise<T>): Promise<T> {
  return handle.pglite!.transaction((tx) =>
    fn({
      async claim(limit) {
        return ((await tx.query<ClaimedRow>(CLAIM, [limit])).rows).map(toOutboxRow);
      },
      async finish(outcome) {
        return finishResult((await tx.query<FinishResult>(FINISH, [JSON.stringify(outcome)])).rows[0]);
      },
    }),
  );
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
    createdAt: new Date(row.created_at_ms),
    attempts: row.attempts,
  };
}

function finishResult(row: FinishResult | undefined): { successorsPending: boolean; nextRetryInMs: number | null } {
  return { successorsPending: row?.successors_pending === true, nextRetryInMs: row?.next_retry_ms ?? null };
}
