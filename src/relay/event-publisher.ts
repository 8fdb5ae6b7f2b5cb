/**
 * Turns outbox rows into Kafka messages and reports, per row, whether the broker acknowledged it.
 * Each row is its own `produce()` (src/kafka/event-producer.ts): librdkafka still batches them on
 * the wire (linger.ms), but a failure is attributed to exactly the row that failed.
 *
 * Each send is a PRODUCER span, child of the request that wrote the event (the outbox row keeps its
 * `traceparent`; rows written outside a request start a trace); the message's `traceparent` header
 * names that span, so a consumer continues the request's trace.
 */
import { SpanKind } from "@opentelemetry/api";
import type { Logger } from "pino";
import { EventProducer, type MessageHeader } from "../kafka/event-producer.js";
import { isFatal, type Kafka } from "../kafka/kafka-client.js";
import { HEADERS } from "../kafka/headers.js";
import { deadLetterTopic, eventTopic } from "../kafka/topics.js";
import { DEAD_LETTER_MAX_EVENT_BYTES, type DeadLetter } from "../outbox/event-schemas.js";
import { traceparentOf, unrecordedTraceparent, withSpan } from "../telemetry/trace-context.js";
import type { OutboxRow } from "./outbox-store.js";

export interface PublisherOptions {
  topicPrefix: string;
  deliveryTimeoutMs: number;
}

/** Owns the relay's producer (created on first use, replaced after a fatal error). */
export class EventPublisher {
  #producer: EventProducer | undefined;
  readonly #kafka: Kafka;
  readonly #options: PublisherOptions;
  readonly #logger: Logger;
  /** Topic per event type, named once. */
  readonly #topics = new Map<string, string>();

  constructor(kafka: Kafka, options: PublisherOptions, logger: Logger) {
    this.#kafka = kafka;
    this.#options = options;
    this.#logger = logger;
  }

  /**
   * Sends every row and waits for all delivery reports. Result i belongs to rows[i]: fulfilled
   * once the broker has the message on all in-sync replicas, rejected with the Kafka error.
   */
  async publish(rows: OutboxRow[]): Promise<PromiseSettledResult<unknown>[]> {
    const producer = await this.#connected();
    const results = await Promise.allSettled(
      rows.map((row) => {
        const topic = this.#topicOf(row.eventType);
        // Not sampled and nothing to export (the usual case): no span to make, the trace passes on.
        const carried = unrecordedTraceparent(row.traceparent);
        if (carried !== undefined) return send(producer, topic, row, Buffer.from(row.value), headersOf(row, row.eventType, carried));
        return withSpan(`${topic} publish`, row.traceparent, publishSpec(topic, row), (span) =>
          send(producer, topic, row, Buffer.from(row.value), headersOf(row, row.eventType, traceparentOf(span, row.traceparent))),
        );
      }),
    );
    await this.#replaceIfFatal(results);
    return results;
  }

  /** Publishes the dead-letter record of `row`; rejects if the broker did not take it. */
  async publishDeadLetter(row: OutboxRow, record: Omit<DeadLetter, "event" | "eventBytes" | "truncated">): Promise<void> {
    const producer = await this.#connected();
    const original = Buffer.from(row.value);
    const truncated = original.length > DEAD_LETTER_MAX_EVENT_BYTES;
    const event = truncated
      ? original.subarray(0, DEAD_LETTER_MAX_EVENT_BYTES).toString("utf8")
      : original.toString("utf8");
    const value: DeadLetter = { ...record, event, eventBytes: original.length, truncated };
    const topic = deadLetterTopic(this.#options.topicPrefix);
    const [result] = await Promise.allSettled([
      withSpan(`${topic} publish`, row.traceparent, publishSpec(topic, row), (span) =>
        send(producer, topic, row, Buffer.from(JSON.stringify(value)), headersOf(row, "DeadLetter", traceparentOf(span, row.traceparent))),
      ),
    ]);
    await this.#replaceIfFatal([result!]);
    if (result!.status === "rejected") throw result!.reason;
  }

  /** Waits for in-flight deliveries (up to `timeoutMs`), then disconnects. */
  async close(timeoutMs: number): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    if (!producer) return;
    try {
      await producer.flush(timeoutMs);
    } catch (error) {
      this.#logger.warn({ err: error }, "relay: flush on shutdown did not complete");
    }
    await producer.disconnect();
  }

  #topicOf(eventType: string): string {
    let topic = this.#topics.get(eventType);
    if (topic === undefined) this.#topics.set(eventType, (topic = eventTopic(this.#options.topicPrefix, eventType)));
    return topic;
  }

  async #connected(): Promise<EventProducer> {
    if (!this.#producer) {
      const producer = new EventProducer(this.#kafka, this.#options.deliveryTimeoutMs);
      await producer.connect();
      this.#producer = producer;
    }
    return this.#producer;
  }

  /** A fatal error (idempotence state lost) leaves the producer unusable: start a new one. */
  async #replaceIfFatal(results: PromiseSettledResult<unknown>[]): Promise<void> {
    const fatal = results.find((r) => r.status === "rejected" && isFatal(r.reason));
    if (!fatal) return;
    this.#logger.error({ err: (fatal as PromiseRejectedResult).reason }, "relay: producer failed fatally, replacing it");
    const producer = this.#producer;
    this.#producer = undefined;
    await producer?.disconnect().catch(() => {});
  }
}

/** One message; resolves on its delivery report, rejects with the error of the report or of produce(). */
function send(producer: EventProducer, topic: string, row: OutboxRow, value: Buffer, headers: MessageHeader[]): Promise<unknown> {
  return new Promise((resolve, reject) => producer.produce(topic, row.aggregateId, value, row.createdAtMs, headers, { resolve, reject }));
}

/** The messaging semantic conventions' attributes of one send. */
function publishSpec(topic: string, row: OutboxRow) {
  return {
    kind: SpanKind.PRODUCER,
    attributes: {
      "messaging.system": "kafka",
      "messaging.operation.type": "send",
      "messaging.destination.name": topic,
      "messaging.message.id": row.eventId,
      "messaging.kafka.message.key": row.aggregateId,
    },
  };
}

function headersOf(row: OutboxRow, eventType: string, traceparent: string): MessageHeader[] {
  return [{ [HEADERS.eventId]: row.eventId }, { [HEADERS.eventType]: eventType }, { [HEADERS.traceparent]: traceparent }];
}
