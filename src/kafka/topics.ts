/**
 * Topic names and their creation. One topic per event type under a configurable prefix
 * (`payments.payment-authorized`, ...) plus one dead-letter topic (`payments.dlq`).
 */
import { eventCatalog, typeSlug } from "../outbox/event-schemas.js";
import type { Kafka } from "./kafka-client.js";

/** The topic an event of `eventType` is published to. */
export function eventTopic(prefix: string, eventType: string): string {
  return `${prefix}.${typeSlug(eventType)}`;
}

/** The dead-letter topic. */
export function deadLetterTopic(prefix: string): string {
  return `${prefix}.dlq`;
}

/** Every topic the relay publishes to: one per catalogued event type, then the dead-letter topic. */
export function allTopics(prefix: string): string[] {
  return [...Object.keys(eventCatalog).map((type) => eventTopic(prefix, type)), deadLetterTopic(prefix)];
}

export interface TopicLayout {
  prefix: string;
  partitions: number;
  /** Replication factor; 1 fits a single dev or test broker, production clusters want 3. */
  replicationFactor: number;
}

/** `promise`, or a rejection naming `what` once `timeoutMs` has passed (librdkafka's own timeouts can run longer). */
async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Kafka: ${what} took more than ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates the topics that are missing (existing ones are left as they are, partition counts
 * included: shrinking or growing a topic would reshuffle keys across partitions). Rejects within
 * about `timeoutMs` when the broker does not answer: the topic list is asked for first, because
 * createTopics sends one request per topic and librdkafka ran them one after another, each waiting
 * its full timeout while the broker was down (12 topics with a 2 s timeout: 24 s before it failed).
 */
export async function ensureTopics(kafka: Kafka, layout: TopicLayout, timeoutMs: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const list = () => within(admin.listTopics({ timeout: timeoutMs }), timeoutMs, "listing topics");
    const wanted = allTopics(layout.prefix);
    const missingFrom = (listed: string[]) => wanted.filter((topic) => !listed.includes(topic));
    const missing = missingFrom(await list());
    if (missing.length === 0) return;
    await admin.createTopics({
      timeout: timeoutMs,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: layout.partitions,
        replicationFactor: layout.replicationFactor,
      })),
    });
    // The controller commits a new topic before the broker's metadata shows it, and a consumer that
    // subscribes in between skips the topic until its next metadata refresh (five minutes by
    // default: a CI run once read no FundsDeposited events for a minute). Return once it is listed.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pending = missingFrom(await list());
      if (pending.length === 0) return;
      if (Date.now() > deadline) throw new Error(`Kafka: topics created but not listed after ${timeoutMs} ms: ${pending.join(", ")}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Asks the broker for its topic list with a bound: true when it answered in time. The relay calls
 * this while idle, when no delivery would tell it that the broker went away. `admin` is created
 * and connected once by the caller (a client per probe would start librdkafka threads each time).
 */
export function probeBroker(admin: ReturnType<Kafka["admin"]>, timeoutMs: number): Promise<boolean> {
  return within(admin.listTopics({ timeout: timeoutMs }), timeoutMs, "listing topics").then(() => true, () => false);
}
