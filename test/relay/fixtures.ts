/**
 * Shared pieces of the relay tests: a real broker (the harness's, or a private one a test may stop),
 * fast relay settings, a real consumer that records what it reads, and order checks.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { asc, sql } from "drizzle-orm";
import { startEventConsumer, type ConsumedEvent } from "../../src/consumer/event-consumer.js";
import type { Database } from "../../src/db/client.js";
import { outbox } from "../../src/db/schema.js";
import { createKafka, parseBrokers, type Kafka } from "../../src/kafka/kafka-client.js";
import { ensureTopics } from "../../src/kafka/topics.js";
import type { RelayOptions } from "../../src/relay/relay.js";
import type { Logger } from "../../src/telemetry/logger.js";
import { until } from "../support/until.js";

const run = promisify(execFile);
const kafkaScript = new URL("../../scripts/services/kafka.sh", import.meta.url).pathname;

/** The broker the harness started (scripts/services/kafka.sh). */
export function harnessBrokers(): string {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) throw new Error("KAFKA_BROKERS is not set: run the tests with `npm test` (it starts Kafka)");
  return brokers;
}

/** A topic prefix no other test uses, so tests can share one broker. */
export function uniquePrefix(): string {
  return `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
}

export { capturingLogger } from "../support/logs.js";

export function kafkaFor(brokers: string, logger: Logger): Kafka {
  return createKafka({ brokers: parseBrokers(brokers), clientId: "relay-test" }, logger);
}

/** Relay settings scaled down so that failures, backoff and the circuit play out in seconds. */
export function fastRelayOptions(topicPrefix: string, overrides: Partial<RelayOptions> = {}): RelayOptions {
  return {
    topicPrefix,
    topicPartitions: 3,
    topicReplicationFactor: 1,
    batchSize: 50,
    pollIntervalMs: 200,
    lingerMs: 0,
    maxAttempts: 3,
    backoff: { baseMs: 50, maxMs: 500 },
    breaker: { threshold: 2, cooldownMs: 300, maxCooldownMs: 1_000 },
    deliveryTimeoutMs: 2_000,
    ...overrides,
  };
}

/** A real consumer on every topic of `prefix`, recording what it reads. */
export interface EventLog {
  events: ConsumedEvent[];
  /** Resolves once `done(events)` holds; rejects after `timeoutMs` with `what` in the message. */
  waitFor(what: string, done: (events: ConsumedEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function recordEvents(kafka: Kafka, prefix: string, logger: Logger): Promise<EventLog> {
  await ensureTopics(kafka, { prefix, partitions: 3, replicationFactor: 1 }, 10_000);
  const events: ConsumedEvent[] = [];
  const consumer = await startEventConsumer({
    kafka,
    topicPrefix: prefix,
    groupId: `${prefix}-test`,
    fromBeginning: true,
    logger,
    onEvent: (event) => void events.push(event),
  });
  return {
    events,
    waitFor: (what, done, timeoutMs) =>
      until(what, () => done(events), { timeoutMs, detail: () => `(${events.length} events read)` }),
    stop: () => consumer.disconnect(),
  };
}

/** The outbox in id order: the order each aggregate's events must keep. */
export async function outboxRows(db: Database) {
  return db.select().from(outbox).orderBy(asc(outbox.id));
}

/**
 * Per aggregate, compares the order the consumer first saw each event (within a topic and
 * partition: the order Kafka guarantees) with outbox id order. Returns the aggregates that differ.
 */
export function orderViolations(events: ConsumedEvent[], rows: { eventId: string; id: bigint; aggregateId: string }[]): string[] {
  const idOf = new Map(rows.map((row) => [row.eventId, row.id]));
  const lastSeen = new Map<string, bigint>();
  const violations: string[] = [];
  for (const event of events) {
    if (event.duplicate || event.topic.endsWith(".dlq")) continue;
    const id = idOf.get(event.eventId);
    if (id === undefined) continue;
    const stream = `${event.topic}/${event.partition}/${event.key}`;
    const previous = lastSeen.get(stream);
    if (previous !== undefined && previous > id) violations.push(`${stream}: ${id} after ${previous}`);
    lastSeen.set(stream, id);
  }
  return violations;
}

/**
 * Per aggregate, the outbox rows must have been published in id order across topics too: the relay
 * marks a row published (clock_timestamp) only after its delivery report and before the next row of
 * the aggregate can be claimed.
 */
export async function publishOrderViolations(db: Database): Promise<unknown[]> {
  const result = await db.execute(sql`
    select a.aggregate_id, a.id as earlier, b.id as later from outbox a join outbox b
      on a.aggregate_id = b.aggregate_id and a.id < b.id
    where a.published_at > b.published_at`);
  return Array.isArray(result) ? [...result] : (result as unknown as { rows: unknown[] }).rows;
}

/** A broker of a test's own (the harness's is shared by files running in parallel). */
export interface PrivateBroker {
  brokers: string;
  /** Stops the broker process, keeping its data and ports. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivateBroker(): Promise<PrivateBroker> {
  const dir = await mkdtemp(join(tmpdir(), "relay-broker-"));
  const start = async () => {
    const { stdout } = await run("bash", [kafkaScript, "start", dir], { env: { ...process.env, KAFKA_HEAP: "384m" } });
    return stdout.trim().split("\n").at(-1)!.replace(/^KAFKA_BROKERS=/, "");
  };
  const stop = async () => void (await run("bash", [kafkaScript, "stop", dir]));
  const brokers = await start();
  return {
    brokers,
    stop,
    start: async () => void (await start()),
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
