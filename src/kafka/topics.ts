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

/**
 * Creates the topics that are missing (existing ones are left as they are, partition counts
 * included: shrinking or growing a topic would reshuffle keys across partitions).
 */
export async function ensureTopics(kafka: Kafka, layout: TopicLayout, timeoutMs: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      timeout: timeoutMs,
      topics: allTopics(layout.prefix).map((topic) => ({
        topic,
        numPartitions: layout.partitions,
        replicationFactor: layout.replicationFactor,
      })),
    });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Asks the broker for its topic list with a bound: true when it answered in time. The relay calls
 * this while idle, when no delivery would tell it that the broker went away. `admin` is created
 * and connected once by the caller (a client per probe would start librdkafka threads each time).
 */
export async function probeBroker(admin: ReturnType<Kafka["admin"]>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([admin.listTopics({ timeout: timeoutMs }).then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
