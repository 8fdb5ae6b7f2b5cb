/**
 * The relay's producer: the KafkaJS-style producer of createProducer (same librdkafka settings,
 * connection and error types), but each message goes straight to librdkafka's produce call. The
 * layer's send() wraps every message in a call of its own (a promise per message and per call, a
 * copy of the message, a record-metadata map), which was most of the relay's JavaScript per event
 * after its statements (docs/relay.md). The delivery report still comes through the layer's
 * handler, which settles the `{ resolve, reject }` given with the message, with the layer's errors.
 */
import type { KafkaJS } from "@confluentinc/kafka-javascript";
import { createProducer, type Kafka, type Producer } from "./kafka-client.js";

/** Settled by the message's delivery report: resolved when the broker acknowledged it. */
export interface Delivery {
  resolve: (metadata: unknown) => void;
  reject: (error: unknown) => void;
}

/** A message header as librdkafka takes it: one key with its value. */
export type MessageHeader = Record<string, string>;

/** The part of librdkafka's own producer this uses. */
interface LibrdkafkaProducer {
  produce(topic: string, partition: number, value: Buffer, key: string, timestamp: number, opaque: Delivery, headers: MessageHeader[]): unknown;
}

/** One idempotent, acks=all producer (createProducer's settings). */
export class EventProducer {
  readonly #producer: Producer;
  #client: LibrdkafkaProducer | undefined;

  constructor(kafka: Kafka, deliveryTimeoutMs: number) {
    this.#producer = createProducer(kafka, deliveryTimeoutMs);
  }

  /** Connects; rejects when no broker answers. */
  async connect(): Promise<void> {
    await this.#producer.connect();
    const internal = (this.#producer as KafkaJS.Producer & { _getInternalClient?: () => LibrdkafkaProducer | null })._getInternalClient?.();
    if (!internal) throw new Error("@confluentinc/kafka-javascript: the producer exposes no librdkafka client (_getInternalClient)");
    this.#client = internal;
  }

  /**
   * Queues one message (partition chosen by the producer's partitioner from `key`); `delivery` is
   * settled by its delivery report. Throws when librdkafka refuses it at once (queue full,
   * message too large): then `delivery` is never settled.
   */
  produce(topic: string, key: string, value: Buffer, timestampMs: number, headers: MessageHeader[], delivery: Delivery): void {
    this.#client!.produce(topic, -1, value, key, timestampMs, delivery, headers);
  }

  /** Waits up to `timeoutMs` for every queued message's delivery report. */
  flush(timeoutMs: number): Promise<void> {
    return this.#producer.flush({ timeout: timeoutMs });
  }

  disconnect(): Promise<void> {
    return this.#producer.disconnect();
  }
}
