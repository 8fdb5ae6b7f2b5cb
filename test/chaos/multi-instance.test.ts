/**
 * Three service instances on one PostgreSQL database and one Kafka, started at the same moment on
 * an empty database (the migrations race; the advisory lock in migrate.ts serialises them), under
 * the bank workload spread across them: invariants hold, no deadlock or contention reaches a
 * client, and each aggregate's events keep their order on Kafka with 3 partitions per topic.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import postgres from "postgres";
import { openDatabase } from "../../src/db/client.js";
import {
  capturingLogger,
  harnessBrokers,
  kafkaFor,
  orderViolations,
  outboxRows,
  publishOrderViolations,
  recordEvents,
  uniquePrefix,
} from "../relay/fixtures.js";
import { serverUrl } from "../support/database.js";
import { assertLedgerInvariants } from "../support/invariants.js";
import { freePort, spawnService } from "../support/process.js";
import { until } from "../support/until.js";
import { openAccounts, startBankWorkload } from "./bank-workload.js";

it("three instances started at once share one database and keep per-aggregate order on Kafka", async () => {
  const name = `ledger_multi_${Date.now().toString(36)}`;
  const admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  const prefix = uniquePrefix();
  const ports = await Promise.all([freePort(), freePort(), freePort()]);
  const instances = ports.map((port) =>
    spawnService({
      AUTH_DISABLED: "true",
      RATE_LIMIT_POINTS: "0",
      PORT: String(port),
      DATABASE_URL: url.toString(),
      KAFKA_BROKERS: harnessBrokers(),
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_TOPIC_PARTITIONS: "3",
      DB_POOL_SIZE: "10",
    }),
  );
  const handle = await openDatabase({ url: url.toString(), poolSize: 2, pgliteDataDir: "" });
  try {
    await Promise.all(instances.map((instance) => instance.waitFor(/"msg":"listening/, 90_000)));
    const urls = ports.map((port) => `http://127.0.0.1:${port}`);
    const accountIds = await openAccounts(urls[0]!, 10);
    const workload = startBankWorkload(urls, accountIds);
    await until("2,000 payments over three instances", () => workload.acknowledged.size >= 2_000, { timeoutMs: 90_000 });
    await workload.stop();

    for (const instance of instances) assert.equal(instance.child.exitCode, null, instance.output().slice(-2_000));
    await assertLedgerInvariants(handle.db);
    assert.deepEqual(Object.fromEntries(workload.errors), {}, "no request failed");
    assert.equal(workload.retriedCodes.get("Aborted") ?? 0, 0, "no deadlock or contention reached a client");
    assert.equal(workload.conflictingReplays, 0);

    const { logger } = capturingLogger();
    const pending = async () => {
      const rows = await outboxRows(handle.db);
      return rows.filter((row) => row.publishedAt === null && row.deadAt === null).length;
    };
    await until("the relays published the outbox", async () => (await pending()) === 0, { timeoutMs: 60_000 });
    const rows = await outboxRows(handle.db);
    const log = await recordEvents(kafkaFor(harnessBrokers(), logger), prefix, logger);
    try {
      await log.waitFor("every event read", (events) => new Set(events.map((e) => e.eventId)).size >= rows.length, 60_000);
      assert.deepEqual(orderViolations(log.events, rows), [], "per-aggregate order on Kafka");
      assert.deepEqual(await publishOrderViolations(handle.db), [], "per-aggregate publish order");
      const partitions = new Set(log.events.map((e) => `${e.topic}/${e.partition}`));
      console.log(
        `multi-instance: ${workload.acknowledged.size} payments over 3 instances, ${rows.length} events on ` +
          `${partitions.size} topic partitions, retried ${JSON.stringify(Object.fromEntries(workload.retriedCodes))}`,
      );
      assert.ok([...partitions].filter((p) => p.startsWith(`${prefix}.`)).length > 1, "events spread over several partitions");
    } finally {
      await log.stop();
    }
  } finally {
    await Promise.all(instances.map((instance) => instance.stop()));
    await handle.close();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
});
