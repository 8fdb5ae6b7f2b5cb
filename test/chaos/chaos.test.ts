/**
 * Chaos: the service as a real process on PostgreSQL, Redis and Kafka instances this file owns
 * (crashing the harness's would hurt files running in parallel), under a 32-client bank workload,
 * while PostgreSQL crashes and restarts, Redis is killed, Kafka goes away for a while and the
 * service itself is SIGKILLed and restarted. Afterwards: the ledger's invariants, one effect per
 * key, every acknowledged payment in the database, every outbox event on Kafka (duplicates
 * counted), no unexpected exit. Recovery times are printed.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import postgres from "postgres";
import { openDatabase } from "../../src/db/client.js";
import { capturingLogger, kafkaFor, recordEvents, startPrivateBroker, uniquePrefix, type PrivateBroker } from "../relay/fixtures.js";
import { assertLedgerInvariants } from "../support/invariants.js";
import { createOwnPostgres, type OwnPostgres } from "../support/postgres-cluster.js";
import { freePort, spawnService, type ServiceProcess } from "../support/process.js";
import { startOwnRedis, type OwnRedis } from "../support/redis-server.js";
import { until } from "../support/until.js";
import { openAccounts, startBankWorkload, type BankWorkload } from "./bank-workload.js";

let pg: OwnPostgres;
let redis: OwnRedis;
let broker: PrivateBroker;
before(async () => {
  [pg, redis, broker] = await Promise.all([createOwnPostgres(), startOwnRedis(), startPrivateBroker()]);
});
after(async () => {
  await redis?.kill();
  await broker?.destroy();
  pg?.remove();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Milliseconds from `since` until the workload's next acknowledgement. */
async function nextAckAfter(workload: BankWorkload, since: number): Promise<number> {
  await until("a payment acknowledged after the fault", () => workload.ackTimes.some((t) => t > since), { timeoutMs: 30_000 });
  return Math.round(workload.ackTimes.find((t) => t > since)! - since);
}

it("keeps every invariant through PostgreSQL, Redis, Kafka and service crashes", async () => {
  const prefix = uniquePrefix();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    AUTH_DISABLED: "true",
    PORT: String(port),
    DATABASE_URL: pg.url,
    REDIS_URL: redis.url,
    RATE_LIMIT_POINTS: "1000000",
    KAFKA_BROKERS: broker.brokers,
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_DELIVERY_TIMEOUT_MS: "3000",
    RELAY_BREAKER_COOLDOWN_MS: "300",
    RELAY_BREAKER_MAX_COOLDOWN_MS: "1000",
    RELAY_BACKOFF_MAX_MS: "1000",
    SHUTDOWN_TIMEOUT_MS: "5000",
  };
  const processes: ServiceProcess[] = [];
  const start = async () => {
    const service = spawnService(env);
    processes.push(service);
    await service.waitFor(/"msg":"listening/, 60_000);
    return service;
  };
  let service = await start();
  const accountIds = await openAccounts(url, 10);
  const workload = startBankWorkload([url], accountIds);
  const recovery: Record<string, number> = {};
  try {
    await until("payments flowing", () => workload.ackTimes.length > 100, { timeoutMs: 30_000 });

    pg.crash();
    await sleep(2_000);
    let back = performance.now();
    pg.start();
    recovery.postgresMs = await nextAckAfter(workload, back);

    await redis.kill();
    await sleep(2_000);
    back = performance.now();
    await redis.restart();
    recovery.redisMs = await nextAckAfter(workload, back);

    await broker.stop();
    await sleep(5_000);
    await broker.start();
    back = performance.now();
    recovery.paymentsDuringKafkaOutage = workload.ackTimes.filter((t) => t > back - 5_000 && t <= back).length;

    service.child.kill("SIGKILL");
    await new Promise((resolve) => service.child.once("exit", resolve));
    back = performance.now();
    service = await start();
    recovery.serviceRestartMs = await nextAckAfter(workload, back);
    await sleep(1_000);
  } finally {
    await workload.stop();
  }

  // No unexpected exit: only the one SIGKILL; the first process died of it, the second still runs.
  assert.equal(processes[0]!.child.signalCode, "SIGKILL");
  assert.equal(service.child.exitCode, null, service.output().slice(-3_000));
  for (const p of processes) assert.doesNotMatch(p.output(), /reading 'write'|uncaughtException|unhandledRejection/);

  const handle = await openDatabase({ url: pg.url, poolSize: 2, pgliteDataDir: "" });
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    await assertLedgerInvariants(handle.db);
    // Every acknowledged payment is in the database, each key acknowledged with one payment only.
    const ids = [...workload.acknowledged.values()];
    const found = await sql`select id from payments where id = any(${ids})`;
    assert.equal(found.length, ids.length, "every acknowledged payment was committed");
    assert.equal(new Set(ids).size, ids.length, "distinct keys, distinct payments");
    assert.equal(workload.conflictingReplays, 0, "a replayed key always answers with its first payment");
    // One effect per key: as many payments as payment keys stored, acknowledged or not.
    const [counts] = await sql`select (select count(*) from idempotency_keys where key like 'pay-%')::int as keys,
                                              (select count(*) from payments)::int as paid`;
    assert.equal(counts!.paid, counts!.keys, "one payment per idempotency key");
    const unexpected = processes.flatMap((p) => p.output().split("\n").filter((line) => line.includes('"unexpected failure"')));
    assert.deepEqual(
      [...workload.errors.keys()].filter((code) => code !== "Unavailable"),
      [],
      `no error but UNAVAILABLE reached a client: ${JSON.stringify(Object.fromEntries(workload.errorSamples))}; ` +
        `the service logged:\n${unexpected.slice(0, 5).join("\n")}`,
    );

    // Every outbox event reaches Kafka once the relay caught up; duplicates are allowed and counted.
    await until("the relay published the outbox", async () => {
      const [row] = await sql`select count(*)::int as pending from outbox where published_at is null and dead_at is null`;
      return row!.pending === 0;
    }, { timeoutMs: 60_000 });
    const eventIds = (await sql`select event_id from outbox`).map((row) => row.event_id as string);
    const { logger } = capturingLogger();
    const log = await recordEvents(kafkaFor(broker.brokers, logger), prefix, logger);
    try {
      await log.waitFor("every outbox event on Kafka", (events) => new Set(events.map((e) => e.eventId)).size >= eventIds.length, 60_000);
      const seen = new Set(log.events.map((e) => e.eventId));
      assert.deepEqual(eventIds.filter((id) => !seen.has(id)), [], "no outbox event missing on Kafka");
      const duplicates = log.events.filter((e) => e.duplicate).length;
      console.log(
        `chaos: ${workload.acknowledged.size} payments acknowledged, ${workload.retries} client retries, ` +
          `${eventIds.length} events, ${duplicates} delivered twice; final errors ${JSON.stringify(Object.fromEntries(workload.errors))}; ` +
          `recovery ${JSON.stringify(recovery)}`,
      );
    } finally {
      await log.stop();
    }
  } finally {
    await sql.end();
    await handle.close();
    await service.stop();
  }
});
