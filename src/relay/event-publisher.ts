/**
 * Turns outbox rows into Kafka messages and reports, per row, whether the broker acknowledged it.
 * Each row is its own `send()`: librdkafka still batches them on the wire (linger.ms), but a
 * failure is attributed to exactly the row that failed.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { createProducer, isFatal, type Kafka, type Producer } from "../kafka/kafka-client.js";
import { deadLetterTopic, eventTopic } from "../kafka/topics.js";
import { DEAD_LETTER_MAX_EVENT_BYTES, type DeadLetter } from "../outbox/event-schemas.js";
import type { OutboxRow } from "./outbox-store.js";

/** Kafka header names carried by every message. */
export const HEADERS = { eventId: "event-id", eventType: "event-type", traceparent: "traceparent" } as const;

export interface PublisherOptions {
  topicPrefix: string;
  deliveryTimeoutMs: number;
}

/** Owns the relay's producer (created on first use, replaced after a fatal error). */
export class EventPublisher {
  #producer: Producer | undefined;
  readonly #kafka: Kafka;
  readonly #options: PublisherOptions;
  readonly #logger: Logger;

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
      rows.map((row) =>
        producer.send({
          topic: eventTopic(this.#options.topicPrefix, row.eventType),
          messages: [
            {
              key: row.aggregateId,
              value: JSON.stringify(row.envelope),
              timestamp: String(row.createdAt.getTime()),
              headers: headersOf(row, row.eventType),
            },
          ],
        }),
      ),
    );
    await this.#replaceIfFatal(results);
    return results;
  }

  /** Publishes the dead-letter record of `row`; rejects if the broker did not take it. */
  async publishDeadLetter(row: OutboxRow, record: Omit<DeadLetter, "event" | "eventBytes" | "truncated">): Promise<void> {
    const producer = await this.#connected();
    const original = Buffer.from(JSON.stringify(row.envelope));
    const truncated = original.length > DEAD_LETTER_MAX_EVENT_BYTES;
    const event = truncated
      ? original.subarray(0, DEAD_LETTER_MAX_EVENT_BYTES).toString("utf8")
      : original.toString("utf8");
    const value: DeadLetter = { ...record, event, eventBytes: original.length, truncated };
    const [result] = await Promise.allSettled([
      producer.send({
        topic: deadLetterTopic(this.#options.topicPrefix),
        messages: [{ key: row.aggregateId, value: JSON.stringify(value), headers: headersOf(row, "DeadLetter") }],
      }),
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
      await producer.flush({ timeout: timeoutMs });
    } catch (error) {
      this.#logger.warn({ err: error }, "relay: flush on shutdown did not complete");
    }
    await producer.disconnect();
  }

  async #connected(): Promise<Producer> {
    if (!this.#producer) {
      const producer = createProducer(this.#kafka, this.#options.deliveryTimeoutMs);
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

function headersOf(row: OutboxRow, eventType: string): Record<string, string> {
  return {
    [HEADERS.eventId]: row.eventId,
    [HEADERS.eventType]: eventType,
    // Rows written outside a traced request start a new trace, so consumers can always continue one.
    [HEADERS.traceparent]: row.traceparent ?? `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-00`,
  };
}
