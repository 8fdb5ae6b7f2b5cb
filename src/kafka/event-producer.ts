/**
 * The relay's producer: librdkafka's own produce call and delivery report, without the
 * KafkaJS-style layer. That layer wraps every message in a send() of its own (a promise, a copy of
 * the message, a record-metadata map per call) and was most of the relay's JavaScript per event
 * after the statements (docs/relay.md). Here a message is one `produce()` whose delivery report
 * calls back the function given with it; the guarantees are the same settings (createProducer's:
 * idempotent, acks=all).
 */
import kafkaJavascript from "@confluentinc/kafka-javascript";
import type { Logger } from "pino";
import { connectionOf, producerSettings, type Kafka } from "./kafka-client.js";

const { Producer: RdKafkaProducer } = kafkaJavascript;

/** Called once with the delivery report of one message: null when the broker acknowledged it. */
export type DeliveryCallback = (error: Error | null) => void;

/** A message header as librdkafka takes it: one key with its value. */
export type MessageHeader = Record<string, string>;

/** librdkafka's syslog severities from which its log lines are warnings or errors. */
const LOG_WARNING = 4;
const LOG_ERR = 3;

/** One idempotent, acks=all producer of librdkafka. */
export class EventProducer {
  readonly #client: InstanceType<typeof RdKafkaProducer>;
  readonly #timeoutMs: number;

  /** A producer for the brokers `kafka` was created for (createKafka); `deliveryTimeoutMs` as in createProducer. */
  constructor(kafka: Kafka, deliveryTimeoutMs: number, logger: Logger) {
    const { connection, logger: clientLogger } = connectionOf(kafka);
    const log = (logger ?? clientLogger).child({ component: "kafka" });
    this.#timeoutMs = deliveryTimeoutMs;
    this.#client = new RdKafkaProducer({
      "bootstrap.servers": connection.brokers.join(","),
      "client.id": connection.clientId,
      ...producerSettings(deliveryTimeoutMs),
      log_level: LOG_WARNING,
      dr_cb: true,
    });
    // The report's opaque is the callback given to produce().
    this.#client.on("delivery-report", (error, report) => (report.opaque as DeliveryCallback)((error as unknown as Error | null) ?? null));
    this.#client.on("event.log", (line: { severity: number; fac: string; message: string }) => {
      if (line.severity <= LOG_ERR) log.error({ fac: line.fac }, line.message);
      else if (line.severity <= LOG_WARNING) log.warn({ fac: line.fac }, line.message);
    });
    this.#client.on("event.error", (error) => log.warn({ err: error }, "kafka: producer error"));
  }

  /** Connects (metadata from a broker within the delivery timeout); rejects when none answers. */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#client.connect({ timeout: this.#timeoutMs }, (error) => {
        if (error) return reject(error);
        // Delivery reports are served by librdkafka's background thread, as the KafkaJS layer does.
        this.#client.setPollInBackground(true);
        resolve();
      });
    });
  }

  /**
   * Queues one message; `done` gets its delivery report. Throws when librdkafka refuses it at once
   * (queue full, message too large, unknown topic): then `done` is never called.
   */
  produce(topic: string, key: string, value: Buffer, timestampMs: number, headers: MessageHeader[], done: DeliveryCallback): void {
    this.#client.produce(topic, null, value, key, timestampMs, done, headers);
  }

  /** Waits up to `timeoutMs` for every queued message's delivery report. */
  flush(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => this.#client.flush(timeoutMs, (error) => (error ? reject(error) : resolve())));
  }

  disconnect(): Promise<void> {
    return new Promise((resolve) => this.#client.disconnect(() => resolve()));
  }
}
