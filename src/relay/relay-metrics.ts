/**
 * The relay's OpenTelemetry instruments, created through the API only: whichever SDK and exporter
 * the process registered (Prometheus in the service) receives them, and without one they are
 * no-ops. Instruments are created when a relay starts, not at import, because a meter obtained
 * before the SDK is registered stays a no-op forever.
 */
import { metrics, type BatchObservableResult, type ObservableResult } from "@opentelemetry/api";
import type { CircuitState } from "./circuit-breaker.js";
import type { BacklogSample } from "./outbox-store.js";
import { TELEMETRY_SCOPE } from "../telemetry/scope.js";

/** Circuit states as gauge values: 0 closed, 1 half-open (probing), 2 open. */
export const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, "half-open": 1, open: 2 };

export interface RelayMetrics {
  /** A batch of `count` messages was acknowledged after `seconds`; `latencies` are commit-to-ack. */
  published(count: number, seconds: number, latencies: number[]): void;
  failed(kind: "broker" | "message", count: number): void;
  deadLettered(): void;
  /** Removes the observable callbacks of this relay. */
  close(): void;
}

/**
 * Creates the instruments of one relay instance (`instance` labels its circuit state).
 * `backlog` is queried on each collection, so the gauges show the backlog grow while the relay
 * itself is paused by an open circuit.
 */
export function createRelayMetrics(
  instance: string,
  backlog: () => Promise<BacklogSample>,
  circuitState: () => CircuitState,
): RelayMetrics {
  const meter = metrics.getMeter(TELEMETRY_SCOPE);
  const pending = meter.createObservableGauge("outbox.backlog", {
    description: "Outbox events neither published nor dead-lettered",
    unit: "{event}",
  });
  const oldestAge = meter.createObservableGauge("outbox.oldest_age", {
    description: "Age of the oldest unpublished outbox event",
    unit: "s",
  });
  const circuit = meter.createObservableGauge("relay.circuit.state", {
    description: "Relay circuit breaker: 0 closed, 1 half-open, 2 open",
  });
  const duration = meter.createHistogram("relay.publish.duration", {
    description: "Time from sending a batch to Kafka until every delivery report arrived",
    unit: "s",
  });
  const latency = meter.createHistogram("relay.delivery.latency", {
    description: "Time from the outbox row's creation (in the writer's transaction) to its delivery report",
    unit: "s",
  });
  const publishedCounter = meter.createCounter("relay.published", { description: "Events acknowledged by Kafka" });
  const failures = meter.createCounter("relay.publish.failures", {
    description: "Failed deliveries, by kind: broker (retried, never dead-lettered) or message (counts towards the dead-letter topic)",
  });
  const deadLetters = meter.createCounter("relay.dead_letters", { description: "Events moved to the dead-letter topic" });

  const attributes = { "relay.instance": instance };
  // One query feeds both backlog gauges. A failed query (database away) skips this collection
  // instead of reporting a false zero.
  const onBacklog = async (result: BatchObservableResult) => {
    const sample = await backlog().catch(() => undefined);
    if (!sample) return;
    result.observe(pending, sample.pending);
    result.observe(oldestAge, sample.oldestAgeSeconds);
  };
  const onCircuit = (result: ObservableResult) => result.observe(CIRCUIT_STATE_VALUE[circuitState()], attributes);
  meter.addBatchObservableCallback(onBacklog, [pending, oldestAge]);
  circuit.addCallback(onCircuit);

  return {
    published(count, seconds, latencies) {
      publishedCounter.add(count);
      duration.record(seconds);
      for (const value of latencies) latency.record(value);
    },
    failed(kind, count) {
      failures.add(count, { kind });
    },
    deadLettered() {
      deadLetters.add(1);
    },
    close() {
      meter.removeBatchObservableCallback(onBacklog, [pending, oldestAge]);
      circuit.removeCallback(onCircuit);
    },
  };
}
