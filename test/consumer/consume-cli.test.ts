/**
 * `npm run consume` as a real process against the harness's broker: prints each event once,
 * schema-checked, skipping a redelivered event id.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { it } from "node:test";
import { ulid } from "ulid";
import { buildEnvelope } from "../support/events.js";
import { createProducer } from "../../src/kafka/kafka-client.js";
import { ensureTopics, eventTopic } from "../../src/kafka/topics.js";
import { HEADERS } from "../../src/kafka/headers.js";
import { capturingLogger, harnessBrokers, kafkaFor, uniquePrefix } from "../relay/fixtures.js";

it("prints every event once with its schema verdict", async () => {
  const prefix = uniquePrefix();
  const { logger } = capturingLogger();
  const kafka = kafkaFor(harnessBrokers(), logger);
  await ensureTopics(kafka, { prefix, partitions: 1, replicationFactor: 1 }, 10_000);
  const envelope = buildEnvelope({
    type: "AccountCreated",
    aggregateId: "acct-cli",
    occurredAt: new Date(),
    payload: { accountId: "acct-cli", currency: "EUR", displayName: "cli", createdAt: new Date().toISOString() },
  });
  const broken = { ...envelope, eventId: ulid(), payload: { accountId: "acct-cli" } };
  const producer = createProducer(kafka, 5_000);
  await producer.connect();
  const message = (value: object, eventId: string) => ({
    key: "acct-cli",
    value: JSON.stringify(value),
    headers: { [HEADERS.eventId]: eventId, [HEADERS.eventType]: "AccountCreated" },
  });
  // The same event twice (a redelivery), then an event that does not match its schema.
  await producer.send({
    topic: eventTopic(prefix, "AccountCreated"),
    messages: [message(envelope, envelope.eventId), message(envelope, envelope.eventId), message(broken, broken.eventId)],
  });
  await producer.disconnect();

  const child = spawn(process.execPath, ["--import", "tsx", "src/consumer/consume-cli.ts"], {
    cwd: new URL("../..", import.meta.url).pathname,
    env: { ...process.env, KAFKA_BROKERS: harnessBrokers(), KAFKA_TOPIC_PREFIX: prefix, KAFKA_TOPIC_PARTITIONS: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (stdout.split("\n").filter(Boolean).length < 2 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // Give a wrongly printed duplicate time to show up before stopping.
  await new Promise((resolve) => setTimeout(resolve, 500));
  child.kill("SIGINT");
  await once(child, "exit");

  const lines = stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line));
  assert.equal(lines.length, 2, `two distinct events printed:\n${stdout}\n${stderr}`);
  assert.equal(lines[0].eventId, envelope.eventId);
  assert.equal(lines[0].valid, true);
  assert.deepEqual(lines[0].value, envelope);
  assert.equal(lines[1].eventId, broken.eventId);
  assert.equal(lines[1].valid, false);
  assert.ok(lines[1].problems.length > 0);
  assert.match(stderr, /"duplicatesSkipped":1/);
});
