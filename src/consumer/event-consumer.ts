/**
 * A consumer of the ledger's events: reads every topic under a prefix, validates each message
 * against schemas/, and de-duplicates by event id (the relay delivers at least once, so a
 * redelivery after a relay crash carries the same event id). Used by `npm run consume` and by the
 * relay's tests, which therefore check this sample consumer too.
 */
import type { Logger } from "pino";
import type { Consumer, Kafka } from "../kafka/kafka-client.js";
import { allTopics } from "../kafka/topics.js";
import { HEADERS } from "../kafka/headers.js";
import { SchemaValidator } from "./schema-validator.js";

/** One message as the consumer saw it. */
export interface ConsumedEvent {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  eventId: string;
  eventType: string;
  traceparent: string | undefined;
  /** The decoded JSON value (envelope, or dead-letter record). */
  value: unknown;
  /** Schema problems; empty when the message is valid. */
  problems: string[];
  /** True when this event id was seen before (an at-least-once redelivery). */
  duplicate: boolean;
}

export interface EventConsumerOptions {
  kafka: Kafka;
  topicPrefix: string;
  groupId: string;
  /** Read from the start of each topic when the group has no committed offset. */
  fromBeginning: boolean;
  onEvent: (event: ConsumedEvent) => void | Promise<void>;
  logger: Logger;
  /** How many event ids are remembered for de-duplication (oldest forgotten first). */
  rememberIds?: number;
}

/** Subscribes and starts consuming; returns the consumer so the caller can disconnect it. */
export async function startEventConsumer(options: EventConsumerOptions): Promise<Consumer> {
  const validator = new SchemaValidator();
  const seen = new Set<string>();
  const limit = options.rememberIds ?? 1_000_000;
  const consumer = options.kafka.consumer({
    kafkaJS: { groupId: options.groupId, fromBeginning: options.fromBeginning },
  });
  await consumer.connect();
  await consumer.subscribe({ topics: allTopics(options.topicPrefix) });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const eventId = header(message.headers, HEADERS.eventId) ?? "";
      const eventType = header(message.headers, HEADERS.eventType) ?? "";
      let value: unknown;
      let problems: string[];
      try {
        value = JSON.parse(message.value?.toString("utf8") ?? "");
        problems = validator.problems(eventType, value);
      } catch (error) {
        value = undefined;
        problems = [`not JSON: ${(error as Error).message}`];
      }
      const duplicate = seen.has(eventId);
      if (!duplicate) {
        seen.add(eventId);
        // Sets iterate in insertion order, so the first one is the oldest.
        if (seen.size > limit) seen.delete(seen.values().next().value!);
      }
      await options.onEvent({
        topic,
        partition,
        offset: message.offset,
        key: message.key?.toString("utf8") ?? "",
        eventId,
        eventType,
        traceparent: header(message.headers, HEADERS.traceparent),
        value,
        problems,
        duplicate,
      });
    },
  });
  return consumer;
}

function header(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === null ? undefined : String(first);
}
