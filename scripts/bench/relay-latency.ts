/**
 * Commit-to-delivery latency of the outbox relay running inside the service: for the outbox rows
 * written during one run, the time from the row's creation to its Kafka delivery report
 * (created_at -> published_at, both on the database clock; created_at is the writing transaction's
 * start, so the short transaction itself is included).
 */
import { setTimeout as sleep } from "node:timers/promises";
import postgres from "postgres";

/**
 * The p99 in milliseconds over the payment events created in [from, to), after waiting up to
 * `drainMs` for the relay to publish them; NaN when none was published.
 */
export async function relayP99Ms(databaseUrl: string, from: Date, to: Date, drainMs = 15_000): Promise<number> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const window = sql`event_type like 'Payment%' and created_at >= ${from} and created_at < ${to}`;
    const deadline = Date.now() + drainMs;
    for (;;) {
      const [pending] = await sql`select count(*)::int as n from outbox where ${window} and published_at is null and dead_at is null`;
      if (pending!.n === 0 || Date.now() > deadline) break;
      await sleep(200);
    }
    const [row] = await sql`
      select percentile_cont(0.99) within group (order by extract(epoch from published_at - created_at) * 1000) as p99
      from outbox where ${window} and published_at is not null`;
    return row?.p99 === null || row?.p99 === undefined ? Number.NaN : Number(row.p99);
  } finally {
    await sql.end();
  }
}
