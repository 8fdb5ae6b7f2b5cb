/**
 * Failover, the whole high-availability topology at once: the service as a real process on
 * PostgreSQL under pg_auto_failover (a primary and a synchronous standby,
 * scripts/services/ha/postgres-ha.sh, durable) and a three-broker KRaft Kafka
 * (scripts/services/ha/kafka-cluster.sh: replication factor 3, min.insync.replicas 2; the relay's
 * producer is idempotent with acks=all), 32 clients paying throughout.
 *
 * 1. The primary's whole node (keeper, postmaster, backends) is killed with SIGKILL. The standby is
 *    promoted by pg_auto_failover alone; the service follows it without a restart.
 * 2. Once payments flow on the new primary, the broker leading the payment topic's first partition
 *    is killed with SIGKILL. The relay keeps publishing (its deliveries wait out the leader
 *    election, none is dead-lettered) and stays serving once idle (its broker probe).
 * 3. The old primary's keeper is started again: it rejoins as the synchronous standby.
 *
 * Asserted: 0 acknowledged payments missing (synchronous replication: what the old primary
 * acknowledged is on the new one), balances equal to the sum of entries, every outbox event on the
 * surviving brokers, no `internal` (nor any final error but `unavailable`), the process never
 * exits, the first payment committed on the new primary within 15 s of the kill (measured and
 * printed), readiness false and then true, watch streams notified through the new primary's
 * LISTEN, and the old primary back as a synchronous standby.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import postgres from "postgres";
import { openDatabase } from "../../src/db/client.js";
import { eventTopic } from "../../src/kafka/topics.js";
import { capturingLogger, kafkaFor, recordEvents, uniquePrefix } from "../relay/fixtures.js";
import { jsonClients } from "../support/clients.js";
import { assertLedgerInvariants } from "../support/invariants.js";
import { startKafkaCluster, type KafkaCluster } from "../support/kafka-cluster.js";
import { startPostgresHa, type NodeState, type PostgresHa } from "../support/postgres-ha.js";
import { freePort, spawnService, type ServiceProcess } from "../support/process.js";
import { until } from "../support/until.js";
import { openAccounts, startBankWorkload, type BankWorkload } from "./bank-workload.js";

/** The bound: the first payment committed on the new primary within this of the kill. */
const FAILOVER_BOUND_MS = 15_000;

let ha: PostgresHa | undefined;
let cluster: KafkaCluster | undefined;
let service: ServiceProcess | undefined;
before(async () => {
  // Both started at once (about half the test's time): whichever started is removed by after().
  const [pg, kafka] = await Promise.allSettled([startPostgresHa(), startKafkaCluster()]);
  if (pg.status === "fulfilled") ha = pg.value;
  if (kafka.status === "fulfilled") cluster = kafka.value;
  if (pg.status === "rejected") throw pg.reason;
  if (kafka.status === "rejected") throw kafka.reason;
}, { timeout: 240_000 });
after(async () => {
  await service?.stop();
  await Promise.all([ha?.remove(), cluster?.remove()]);
});

/** Polls GET /readyz every 100 ms, recording each change of its status with the time. */
function watchReadiness(url: string) {
  const changes: { at: number; ready: boolean }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status === 200, () => false);
      if (changes.at(-1)?.ready !== ready) changes.push({ at: performance.now(), ready });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    changes,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** The service's relay and Kafka log lines, for a failure's message. */
function relayLines(output: string): string {
  return output.split("\n").filter((line) => /"component":"(relay|kafka)"|relay:/.test(line)).slice(-40).join("\n");
}

it("kill -9 of the primary's node, then of a Kafka broker, under 32 paying clients: nothing acknowledged lost, no internal errors", { timeout: 300_000 }, async () => {
  assert.ok(ha && cluster);
  const prefix = uniquePrefix();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  service = spawnService({
    AUTH_DISABLED: "true",
    PORT: String(port),
    DATABASE_URL: ha.url,
    RATE_LIMIT_POINTS: "1000000",
    KAFKA_BROKERS: cluster.brokers,
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_REPLICATION_FACTOR: "3",
    SHUTDOWN_TIMEOUT_MS: "5000",
  });
  await service.waitFor(/"msg":"listening/, 60_000);
  const { logger } = capturingLogger();
  const kafka = kafkaFor(cluster.brokers, logger);
  // Follows the primary like the service (target_session_attrs=read-write); used after the failover.
  const sql = postgres(ha.url, { max: 2, onnotice: () => {} });
  const measured: Record<string, number | string> = {};
  let workload: BankWorkload | undefined;
  const readiness = watchReadiness(url);
  try {
    const accountIds = await openAccounts(url, 10);
    // Two accounts outside the workload, for the watch stream.
    const [watched, payer] = await openAccounts(url, 2);
    const topic = eventTopic(prefix, "PaymentAuthorized");
    const partitions = await replicatedPartitions(kafka, topic);
    const victim = partitions.find((partition) => partition.partitionId === 0)!.leader;

    workload = startBankWorkload([url], accountIds, 32);
    await until("payments flowing", () => workload!.ackTimes.length > 200, { timeoutMs: 60_000 });

    // 1. The primary's node.
    const { killed, gone } = await killPrimary(ha, workload, measured);
    await until("readiness true again", () => readiness.changes.at(-1)?.ready === true && readiness.changes.at(-1)!.at > gone);
    measured.watchDeliveryMs = await watchAfterFailover(url, watched!, payer!);
    await until("more payments on the new primary", () => workload!.ackSentTimes.filter((t) => t > gone).length > 200, { timeoutMs: 60_000 });

    // 2. A Kafka broker, the payment topic's first partition's leader, with the database failed over.
    await cluster.kill(victim);
    const brokerKilledAt = new Date();
    const brokerKilledAtMs = performance.now();
    measured.brokerKilled = victim;
    // 3. Meanwhile the old primary's keeper starts again, to rejoin as the standby (pg_rewind).
    const rejoinFrom = performance.now();
    await ha.restart(killed);
    const rejoined = until(
      "the old primary back as a secondary",
      async () => (await ha!.state()).some((node) => node.name === killed && node.reported === "secondary" && node.goal === "secondary"),
      { timeoutMs: 120_000, intervalMs: 500 },
    ).then(() => void (measured.rejoinMs = Math.round(performance.now() - rejoinFrom)));
    // The relay publishes events committed after the broker's kill: it goes on without it.
    const publishedSince = async () =>
      (await sql`select count(*)::int as n from outbox where created_at > ${brokerKilledAt} and published_at is not null`)[0]!.n as number;
    await until("an event committed after the broker's kill published", async () => (await publishedSince()) > 0, {
      timeoutMs: 60_000,
      detail: () => relayLines(service!.output()),
    });
    measured.firstPublishAfterBrokerKillMs = Math.round(performance.now() - brokerKilledAtMs);
    await until("many events published after the broker's kill", async () => (await publishedSince()) > 200, { timeoutMs: 60_000 });
    await newLeader(kafka, topic, victim);
    await rejoined;
  } finally {
    await workload?.stop();
    await readiness.stop();
  }

  try {
    assert.ok(
      (measured.firstPaymentAfterKillMs as number) <= FAILOVER_BOUND_MS,
      `first payment ${measured.firstPaymentAfterKillMs} ms after the kill (bound ${FAILOVER_BOUND_MS} ms)`,
    );
    // Readiness: false after the kill, true again since.
    const afterKill = readiness.changes.filter((change) => change.at > (measured.killedAt as number));
    const down = afterKill.find((change) => !change.ready);
    assert.ok(down, `readiness never reported false after the kill: ${JSON.stringify(readiness.changes)}`);
    const up = afterKill.find((change) => change.ready && change.at > down.at);
    assert.ok(up, "readiness true again");
    measured.readinessFalseAfterMs = Math.round(down.at - (measured.killedAt as number));
    measured.readinessTrueAfterMs = Math.round(up.at - (measured.killedAt as number));
    delete measured.killedAt;

    // The process never exited, and nothing reached a client as internal or unknown.
    assert.equal(service.child.exitCode, null, service.output().slice(-3_000));
    assert.doesNotMatch(service.output(), /"msg":"unexpected failure"|uncaughtException|unhandledRejection/);
    assert.deepEqual([...workload!.errors.keys()].filter((code) => code !== "Unavailable"), [], "no final error but UNAVAILABLE");
    assert.deepEqual(
      [...workload!.retriedCodes.keys()].filter((code) => !["Unavailable", "DeadlineExceeded"].includes(code)),
      [],
      `retried codes ${JSON.stringify(Object.fromEntries(workload!.retriedCodes))}`,
    );

    const handle = await openDatabase({ url: ha.url, poolSize: 2, pgliteDataDir: "" });
    try {
      await assertLedgerInvariants(handle.db);
    } finally {
      await handle.close();
    }
    const ids = [...workload!.acknowledged.values()];
    const found = await sql`select id from payments where id = any(${ids})`;
    assert.equal(found.length, ids.length, `acknowledged payments missing: ${ids.length - found.length} of ${ids.length}`);
    assert.equal(workload!.conflictingReplays, 0, "a replayed key always answers with its first payment");
    // One effect per key: as many payments as payment keys stored, acknowledged or not.
    const [counts] = await sql`select (select count(*) from idempotency_keys where key like 'pay-%' or key = 'watch-after-failover')::int as keys,
                                      (select count(*) from payments)::int as paid`;
    assert.equal(counts!.paid, counts!.keys, "one payment per idempotency key");
    measured.acknowledged = ids.length;
    measured.retries = workload!.retries;
    measured.retriedCodes = JSON.stringify(Object.fromEntries(workload!.retriedCodes));

    // Replication is synchronous again with the old primary as the standby.
    const [replication] = await sql`select sync_state from pg_stat_replication`;
    assert.match(String(replication?.sync_state), /^(sync|quorum)$/);

    // Every outbox event is on the surviving brokers once the relay, on the new primary, caught up.
    await until("the outbox drained", async () => {
      const [row] = await sql`select count(*)::int as pending from outbox where published_at is null and dead_at is null`;
      return row!.pending === 0;
    }, { timeoutMs: 60_000 });
    // Idle now: the relay's broker probe (not deliveries) keeps it serving with a broker missing.
    let serving = 0;
    await until("the idle relay serving for 3 s in a row", async () => {
      const body = (await (await fetch(`${url}/readyz`)).json()) as { components: { relay?: boolean } };
      serving = body.components.relay ? serving + 1 : 0;
      return serving >= 30;
    }, { intervalMs: 100, timeoutMs: 30_000 });
    const [dead] = await sql`select count(*)::int as n from outbox where dead_at is not null`;
    assert.equal(dead!.n, 0, "no event dead-lettered");
    const eventIds = (await sql`select event_id from outbox`).map((row) => row.event_id as string);
    const log = await recordEvents(kafka, prefix, logger);
    try {
      await log.waitFor("every outbox event on Kafka", (events) => new Set(events.map((e) => e.eventId)).size >= eventIds.length, 60_000);
      const seen = new Set(log.events.map((e) => e.eventId));
      assert.deepEqual(eventIds.filter((id) => !seen.has(id)), [], "no outbox event missing on Kafka");
      measured.events = eventIds.length;
      measured.duplicates = log.events.filter((e) => e.duplicate).length;
    } finally {
      await log.stop();
    }
    console.log(`failover: ${JSON.stringify(measured)}`);
  } finally {
    await sql.end();
  }
});

/**
 * Kills the primary's node and waits for the first payment committed on the new primary; records
 * the times in `measured` (killedAt is performance.now() of the kill, for the readiness figures).
 */
async function killPrimary(ha: PostgresHa, workload: BankWorkload, measured: Record<string, number | string>) {
  const before = await ha.state();
  const oldPrimary = before.find((node) => node.reported === "primary");
  assert.ok(oldPrimary, `a primary before the kill: ${JSON.stringify(before)}`);
  // killedAt: when the kill was asked for (the time reported counts from here); gone: when the
  // script returned, the node's processes all dead. A request sent after `gone` cannot have
  // committed on the old primary; one sent in between may have (the script first asks the monitor
  // which node is the primary).
  const killedAt = performance.now();
  const killed = await ha.killPrimary();
  const gone = performance.now();
  assert.equal(killed, oldPrimary.name);
  measured.killed = killed;
  measured.killedAt = killedAt;
  measured.killScriptMs = Math.round(gone - killedAt);
  const committedAfterKill = () => workload.ackSentTimes.findIndex((sent) => sent > gone);
  await until("a payment committed on the new primary", () => committedAfterKill() >= 0, { timeoutMs: 60_000 });
  measured.firstPaymentAfterKillMs = Math.round(workload.ackTimes[committedAfterKill()]! - killedAt);
  // The keeper reports its state to the monitor on its own beat, so the state it reports can
  // trail the promotion (a write can commit while it still says stop_replication).
  let promoted: NodeState[] = [];
  await until("the other node reporting itself primary", async () => {
    promoted = await ha.state();
    return /^(wait_primary|primary)$/.test(String(promoted.find((node) => node.name !== killed)?.reported));
  }, { timeoutMs: 30_000 }).catch(() => undefined);
  const newPrimary = promoted.find((node) => node.name !== killed);
  assert.match(String(newPrimary?.reported), /^(wait_primary|primary)$/, JSON.stringify(promoted));
  return { killed, gone };
}

/**
 * A watch stream opened after the failover is notified of a new entry through the new primary's
 * NOTIFY (LISTEN re-established there), well before the watcher's 5 s poll would find it; the
 * delivery time in ms.
 */
async function watchAfterFailover(url: string, watched: string, payer: string): Promise<number> {
  const clients = jsonClients(url);
  const abort = new AbortController();
  const stream = clients.accounts.watchAccount({ accountId: watched }, { signal: abort.signal });
  const iterator = stream[Symbol.asyncIterator]();
  await iterator.next(); // the balances now
  const paidAt = performance.now();
  await clients.payments.authorizePayment({ idempotencyKey: "watch-after-failover", payerAccountId: payer, payeeAccountId: watched, amountCents: 7n, currency: "USD" });
  const next = await iterator.next();
  const deliveryMs = Math.round(performance.now() - paidAt);
  abort.abort();
  assert.equal(next.value?.entry?.amountCents, 7n);
  assert.ok(deliveryMs < 2_500, `watch delivery took ${deliveryMs} ms: LISTEN not re-established?`);
  return deliveryMs;
}

type Kafka = ReturnType<typeof kafkaFor>;

/** Waits until the relay created `topic` with every partition on all three brokers; its partitions. */
async function replicatedPartitions(kafka: Kafka, topic: string) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let partitions: { partitionId: number; leader: number; replicas: number[]; isr: number[] }[] = [];
    await until("the relay's topics replicated three times", async () => {
      const [m] = await admin.fetchTopicMetadata({ topics: [topic], timeout: 5_000 }).catch(() => [undefined]);
      if (m && m.partitions.length > 0 && m.partitions.every((p) => p.replicas.length === 3 && p.isr.length === 3)) partitions = m.partitions;
      return partitions.length > 0;
    }, { timeoutMs: 60_000 });
    return partitions;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until partition 0 of `topic` is led by a broker other than `victim`. A new admin client: one
 * connected before the kill may keep asking the dead broker (librdkafka sends admin requests to
 * the controller it learnt, until its metadata refresh).
 */
async function newLeader(kafka: Kafka, topic: string, victim: number) {
  const admin = kafka.admin();
  await admin.connect();
  let seen = "";
  try {
    await until("partition 0 led by a surviving broker", async () => {
      const m = await admin.fetchTopicMetadata({ topics: [topic], timeout: 5_000 }).then(([m]) => m, (error: unknown) => void (seen = String(error)));
      if (m) seen = JSON.stringify(m.partitions.map((p) => ({ partition: p.partitionId, leader: p.leader, isr: p.isr })));
      const leader = m?.partitions.find((partition) => partition.partitionId === 0)?.leader;
      return leader !== undefined && leader !== victim && leader >= 0;
    }, { detail: () => `last metadata: ${seen}` });
  } finally {
    await admin.disconnect();
  }
}
