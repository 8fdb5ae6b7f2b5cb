/**
 * A replicated Kafka losing a broker under load (scripts/services/ha/kafka-cluster.sh: three KRaft
 * brokers, replication factor 3, min.insync.replicas 2; the relay's producer is idempotent with
 * acks=all): the broker leading the payment topic's first partition is killed with SIGKILL while 32
 * clients pay. The relay keeps publishing (its deliveries wait out the leader election, none is
 * dead-lettered), stays serving once idle (its broker probe), and every outbox event is on the two
 * remaining brokers afterwards.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { sql } from "drizzle-orm";
import { eventTopic } from "../../src/kafka/topics.js";
import { openAccounts, startBankWorkload } from "../chaos/bank-workload.js";
import { startKafkaCluster, type KafkaCluster } from "../support/kafka-cluster.js";
import { startTestService, type TestService } from "../support/service.js";
import { until } from "../support/until.js";
import { capturingLogger, kafkaFor, recordEvents, uniquePrefix } from "./fixtures.js";

let cluster: KafkaCluster;
let service: TestService | undefined;
before(async () => {
  cluster = await startKafkaCluster();
});
after(async () => {
  await service?.stop();
  await cluster?.remove();
});

it("kill -9 of a partition leader under load: the relay goes on, no event lost", { timeout: 180_000 }, async () => {
  const prefix = uniquePrefix();
  service = await startTestService({
    KAFKA_BROKERS: cluster.brokers,
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_REPLICATION_FACTOR: "3",
  });
  const db = service.database.handle.db;
  const { logger } = capturingLogger();
  const kafka = kafkaFor(cluster.brokers, logger);
  const admin = kafka.admin();
  await admin.connect();
  const measured: Record<string, number> = {};
  try {
    const accountIds = await openAccounts(service.url, 8);
    const topic = eventTopic(prefix, "PaymentAuthorized");
    // The relay creates its topics once it runs; wait until they are there, fully in sync.
    const metadataOf = () => admin.fetchTopicMetadata({ topics: [topic], timeout: 5_000 }).then(([m]) => m, () => undefined);
    let metadata: NonNullable<Awaited<ReturnType<typeof metadataOf>>> | undefined;
    await until("the relay's topics replicated three times", async () => {
      const m = await metadataOf();
      if (m && m.partitions.length > 0 && m.partitions.every((p) => p.isr.length === 3)) metadata = m;
      return metadata !== undefined;
    }, { timeoutMs: 60_000 });
    assert.ok(metadata);
    for (const partition of metadata.partitions) {
      assert.equal(partition.replicas.length, 3, `${topic}/${partition.partitionId} replicas`);
      assert.equal(partition.isr.length, 3, `${topic}/${partition.partitionId} in sync`);
    }
    const victim = metadata.partitions.find((partition) => partition.partitionId === 0)!.leader;

    const workload = startBankWorkload([service.url], accountIds, 32);
    try {
      await until("payments flowing", () => workload.ackTimes.length > 100, { timeoutMs: 60_000 });
      await cluster.kill(victim);
      const killedAt = new Date();
      const killedAtMs = performance.now();
      // The relay publishes events committed after the kill: it goes on without the dead broker.
      const publishedSince = async () =>
        Number(((await db.execute(sql`select count(*)::int as n from outbox where created_at > ${killedAt.toISOString()}::timestamptz and published_at is not null`)) as unknown as { n: number }[])[0]!.n);
      await until("an event committed after the kill published", async () => (await publishedSince()) > 0, { timeoutMs: 60_000 });
      measured.firstPublishAfterKillMs = Math.round(performance.now() - killedAtMs);
      await until("many events published after the kill", async () => (await publishedSince()) > 200, { timeoutMs: 60_000 });
      // A new admin client: the first one may keep asking the dead broker (librdkafka sends admin
      // requests to the controller it learnt, until its metadata refresh).
      const fresh = kafka.admin();
      await fresh.connect();
      let seen = "";
      await until("partition 0 led by a surviving broker", async () => {
        const m = await fresh.fetchTopicMetadata({ topics: [topic], timeout: 5_000 }).then(([m]) => m, (error: unknown) => void (seen = String(error)));
        if (m) seen = JSON.stringify(m.partitions.map((p) => ({ partition: p.partitionId, leader: p.leader, isr: p.isr })));
        const leader = m?.partitions.find((partition) => partition.partitionId === 0)?.leader;
        return leader !== undefined && leader !== victim && leader >= 0;
      }, { detail: () => `last metadata: ${seen}` }).finally(() => fresh.disconnect());
    } finally {
      await workload.stop();
    }
    assert.deepEqual([...workload.errors.keys()], [], "payments never failed: Kafka is not on the payment path");

    await until("the outbox drained", async () => {
      const [row] = (await db.execute(sql`select count(*)::int as pending from outbox where published_at is null and dead_at is null`)) as unknown as { pending: number }[];
      return row!.pending === 0;
    }, { timeoutMs: 60_000 });
    // Idle now: the relay's broker probe (not deliveries) keeps it serving with a broker missing.
    let serving = 0;
    await until("the idle relay serving for 3 s in a row", async () => {
      const body = (await (await fetch(`${service!.url}/readyz`)).json()) as { components: { relay?: boolean } };
      serving = body.components.relay ? serving + 1 : 0;
      return serving >= 30;
    }, { intervalMs: 100, timeoutMs: 30_000 });
    const [dead] = (await db.execute(sql`select count(*)::int as n from outbox where dead_at is not null`)) as unknown as { n: number }[];
    assert.equal(dead!.n, 0, "no event dead-lettered");
    const eventIds = ((await db.execute(sql`select event_id from outbox`)) as unknown as { event_id: string }[]).map((row) => row.event_id);
    const log = await recordEvents(kafka, prefix, logger);
    try {
      await log.waitFor("every outbox event on the surviving brokers", (events) => new Set(events.map((e) => e.eventId)).size >= eventIds.length, 60_000);
      const seen = new Set(log.events.map((e) => e.eventId));
      assert.deepEqual(eventIds.filter((id) => !seen.has(id)), [], "no outbox event missing");
      measured.events = eventIds.length;
      measured.duplicates = log.events.filter((e) => e.duplicate).length;
    } finally {
      await log.stop();
    }
    console.log(`broker failover: killed broker ${victim}, ${JSON.stringify(measured)}`);
  } finally {
    await admin.disconnect();
  }
});
