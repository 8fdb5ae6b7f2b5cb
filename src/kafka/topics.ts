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
