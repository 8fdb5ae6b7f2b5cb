/**
 * The outbox relay running inside the service, seen from the database: commit-to-delivery latency
 * for the outbox rows written during one run (created_at -> published_at, both on the database
 * clock; created_at is the writing transaction's start, so the short transaction is included), and
 * a wait for the relay to catch up so that no run pays for the previous run's backlog.
 */
import { setTimeout as sleep } from "node:timers/promises";
import postgres from "postgres";

async function withDatabase<T>(databaseUrl: string, work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    return await work(sql);
  } finally {
    await sql.end();
  }
}

/** Polls until no outbox row matching `where` waits for the relay, or `timeoutMs` passed. */
async function drain(sql: postgres.Sql, where: postgres.PendingQuery<postgres.Row[]>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [pending] = await sql`select count(*)::int as n from outbox where ${where} and published_at is null and dead_at is null`;
    if (pending!.n === 0 || Date.now() > deadline) return;
    await sleep(200);
  }
}

/** Waits until the relay has delivered (or dead-lettered) every outbox row, at most `timeoutMs`. */
export function waitForRelay(databaseUrl: string, timeoutMs = 120_000): Promise<void> {
  return withDatabase(databaseUrl, (sql) => drain(sql, sql`true`, timeoutMs));
}

/**
 * The p99 in milliseconds over the payment events created in [from, to), after waiting up to
 * `drainMs` for the relay to publish them; NaN when none was published.
 */
export function relayP99Ms(databaseUrl: string, from: Date, to: Date, drainMs = 30_000): Promise<number> {
  return withDatabase(databaseUrl, async (sql) => {
    const window = sql`event_type like 'Payment%' and created_at >= ${from} and created_at < ${to}`;
    await drain(sql, window, drainMs);
    const [row] = await sql`
      select percentile_cont(0.99) within group (order by extract(epoch from published_at - created_at) * 1000) as p99
      from outbox where ${window} and published_at is not null`;
    return row?.p99 === null || row?.p99 === undefined ? Number.NaN : Number(row.p99);
  });
}

/** Outbox rows still waiting for the relay right now: the backlog a run leaves behind. */
export function outboxBacklog(databaseUrl: string): Promise<number> {
  return withDatabase(databaseUrl, async (sql) => {
    const [row] = await sql`select count(*)::int as n from outbox where published_at is null and dead_at is null`;
    return row!.n as number;
  });
}

/**
 * The p99 in milliseconds from each event's commit to its delivery (committed_at -> published_at,
 * committed_at from the writer's commit timestamp: track_commit_timestamp is on for the benchmark's
 * cluster) over the events committed in [from, to); NaN when none has both. Unlike relayP99Ms, a
 * batch's events are not charged for the batch transaction's own duration.
 */
export function deliveryP99Ms(databaseUrl: string, from: Date, to: Date, drainMs = 30_000): Promise<number> {
  return withDatabase(databaseUrl, async (sql) => {
    const window = sql`created_at >= ${from} and created_at < ${to}`;
    await drain(sql, window, drainMs);
    const [row] = await sql`
      select percentile_cont(0.99) within group (order by extract(epoch from published_at - committed_at) * 1000) as p99
      from outbox where ${window} and published_at is not null and committed_at is not null`;
    return row?.p99 === null || row?.p99 === undefined ? Number.NaN : Number(row.p99);
  });
}
