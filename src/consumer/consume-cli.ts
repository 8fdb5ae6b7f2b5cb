/**
 * `npm run consume`: prints the ledger's events as they arrive, one JSON line each, flags schema
 * problems, and skips redeliveries of an event id already printed. Ctrl-C stops it.
 *   KAFKA_BROKERS (required), KAFKA_TOPIC_PREFIX, CONSUMER_GROUP (default: a fresh group, reading
 *   from the beginning), LOG_LEVEL.
 */
import { randomUUID } from "node:crypto";
import { loadConfigOrExit } from "../config/config.js";
import { createKafka, parseBrokers } from "../kafka/kafka-client.js";
import { ensureTopics } from "../kafka/topics.js";
import { createLogger } from "../telemetry/logger.js";
import { startEventConsumer } from "./event-consumer.js";

const config = loadConfigOrExit();
if (!config.KAFKA_BROKERS) {
  console.error("KAFKA_BROKERS is not set (npm run kafka starts a local broker)");
  process.exit(2);
}
// Events go to stdout, the consumer's own log to stderr, so the output can be piped.
const logger = createLogger(config.LOG_LEVEL, process.stderr);
const groupId = process.env.CONSUMER_GROUP || `payment-ledger-consume-${randomUUID()}`;
let printed = 0;
let duplicates = 0;

const kafka = createKafka({ brokers: parseBrokers(config.KAFKA_BROKERS), clientId: "payment-ledger-consume" }, logger);
// Subscribing to a topic that does not exist yet would only notice it at the next metadata refresh
// (minutes): create the same topics the relay would, if they are missing.
const layout = { prefix: config.KAFKA_TOPIC_PREFIX, partitions: config.KAFKA_TOPIC_PARTITIONS };
await ensureTopics(kafka, { ...layout, replicationFactor: config.KAFKA_REPLICATION_FACTOR }, config.KAFKA_DELIVERY_TIMEOUT_MS);
const consumer = await startEventConsumer({
  kafka,
  topicPrefix: config.KAFKA_TOPIC_PREFIX,
  groupId,
  fromBeginning: true,
  logger,
  onEvent: (event) => {
    if (event.duplicate) {
      duplicates += 1;
      return;
    }
    printed += 1;
    const { topic, partition, offset, eventId, eventType, traceparent, value, problems } = event;
    const line = { topic, partition, offset, eventId, eventType, traceparent, valid: problems.length === 0, problems, value };
    process.stdout.write(JSON.stringify(line) + "\n");
  },
});
logger.info({ groupId, topicPrefix: config.KAFKA_TOPIC_PREFIX }, "consume: waiting for events (Ctrl-C stops)");

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    logger.info({ printed, duplicatesSkipped: duplicates }, "consume: stopping");
    consumer.disconnect().finally(() => process.exit(0));
  });
}
