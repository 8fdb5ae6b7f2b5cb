/**
 * Builds a relay from the service configuration. Shared by the in-process relay that the service
 * starts (src/server/service.ts) and the standalone `npm run relay` (relay-cli.ts).
 */
import type { Config } from "../config/config.js";
import type { DatabaseHandle } from "../db/client.js";
import type { HealthReporter } from "../health/health-monitor.js";
import { createKafka, parseBrokers } from "../kafka/kafka-client.js";
import type { Logger } from "../telemetry/logger.js";
import { OutboxRelay, type RelayOptions } from "./relay.js";
import { listenForOutbox } from "./wakeup.js";

/** The relay settings held in `config`. */
export function relayOptions(config: Config): RelayOptions {
  return {
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    topicPartitions: config.KAFKA_TOPIC_PARTITIONS,
    topicReplicationFactor: config.KAFKA_REPLICATION_FACTOR,
    batchSize: config.RELAY_BATCH_SIZE,
    pollIntervalMs: config.RELAY_POLL_INTERVAL_MS,
    lingerMs: config.RELAY_LINGER_MS,
    maxAttempts: config.RELAY_MAX_ATTEMPTS,
    backoff: { baseMs: config.RELAY_BACKOFF_BASE_MS, maxMs: config.RELAY_BACKOFF_MAX_MS },
    breaker: {
      threshold: config.RELAY_BREAKER_THRESHOLD,
      cooldownMs: config.RELAY_BREAKER_COOLDOWN_MS,
      maxCooldownMs: config.RELAY_BREAKER_MAX_COOLDOWN_MS,
    },
    deliveryTimeoutMs: config.KAFKA_DELIVERY_TIMEOUT_MS,
  };
}

/**
 * Starts the relay over `database` when KAFKA_BROKERS is configured. Without it the relay stays off
 * (outbox rows wait for a relay) and this says so once; returns undefined then. `health` learns
 * whether the relay can reach Kafka (component "relay").
 */
export async function startRelay(
  config: Config,
  database: DatabaseHandle,
  logger: Logger,
  health?: HealthReporter,
): Promise<OutboxRelay | undefined> {
  if (!config.KAFKA_BROKERS) {
    logger.info("relay: KAFKA_BROKERS is not set, outbox relay is off (events stay in the outbox)");
    return undefined;
  }
  const relay = new OutboxRelay(
    {
      database,
      kafka: createKafka({ brokers: parseBrokers(config.KAFKA_BROKERS), clientId: "payment-ledger-relay" }, logger),
      wakeups: listenForOutbox(database),
      logger,
      health,
    },
    relayOptions(config),
  );
  await relay.start();
  return relay;
}
