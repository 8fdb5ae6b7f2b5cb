/**
 * The broker goes away while payments continue, then comes back. Uses a private broker (stopping
 * the harness's would break files running in parallel) and reads the relay's metrics through a
 * real OpenTelemetry SDK reader.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { metrics } from "@opentelemetry/api";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { Ledger } from "../../src/ledger/ledger.js";
import { OutboxRelay } from "../../src/relay/relay.js";
import { CIRCUIT_STATE_VALUE } from "../../src/relay/relay-metrics.js";
import { listenForOutbox } from "../../src/relay/wakeup.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import {
  capturingLogger,
  fastRelayOptions,
  kafkaFor,
  orderViolations,
  outboxRows,
  publishOrderViolations,
  recordEvents,
  startPrivateBroker,
  uniquePrefix,
  type EventLog,
  type PrivateBroker,
} from "./fixtures.js";
import { until } from "../support/until.js";

/** Collects on demand, like a Prometheus scrape. */
class OnDemandReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

const reader = new OnDemandReader();
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

/** The values of every data point of metric `name`. */
async function metricValues(name: string): Promise<number[]> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics
    .flatMap((scope) => scope.metrics)
    .filter((metric) => metric.descriptor.name === name)
    .flatMap((metric) => metric.dataPoints.map((point) => point.value as number));
}

const ctx = { clientId: "outage-test" };
const { logger, lines } = capturingLogger();
let broker: PrivateBroker;
let database: TestDatabase;
let relay: OutboxRelay;
let log: EventLog;
/** What the relay told the service's health monitor, in order. */
const healthReports: boolean[] = [];

before(async () => {
  [broker, database] = await Promise.all([startPrivateBroker(), createTestDatabase()]);
  const kafka = kafkaFor(broker.brokers, logger);
  const prefix = uniquePrefix();
  log = await recordEvents(kafka, prefix, logger);
  relay = new OutboxRelay(
    {
      database: database.handle,
      kafka,
      wakeups: listenForOutbox(database.handle),
      logger,
      instanceId: "outage",
      health: { report: (component, serving) => void (component === "relay" && healthReports.push(serving)) },
    },
    fastRelayOptions(prefix),
  );
  await relay.start();
});

after(async () => {
  await relay?.stop();
  await log?.stop();
  await database?.drop();
  await broker?.destroy();
});

it("keeps taking payments while the broker is down, then delivers everything in order", async () => {
  const ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 1 });
  let seq = 0;
  const newAccount = async () => (await ledger.createAccount({ currency: "EUR", displayName: "o", accountId: "" }, ctx)).accountId;
  const payer = await newAccount();
  const payee = await newAccount();
  /** One deposit to the payer (the hot key whose order is checked) and one payment. */
  const step = async () => {
    await ledger.depositFunds({ idempotencyKey: `d${++seq}`, accountId: payer, amountCents: 100n, currency: "EUR" }, ctx);
    const payment = await ledger.authorizePayment(
      { idempotencyKey: `p${++seq}`, payerAccountId: payer, payeeAccountId: payee, amountCents: 50n, currency: "EUR", description: "" },
      ctx,
    );
    assert.equal(payment.status, "AUTHORIZED");
  };

  for (let i = 0; i < 5; i++) await step();
  await until("the first events to arrive", () => log.events.length >= 12);

  await broker.stop();
  const pendingAtStop = (await relay.backlog()).pending;
  // Payments go on during the outage, none fails; the circuit opens and the backlog grows.
  let steps = 0;
  const startedAt = Date.now();
  while (relay.circuitState !== "open" || Date.now() - startedAt < 3_000) {
    await step();
    steps += 1;
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(Date.now() - startedAt < 30_000, "the circuit opened within 30 s");
  }
  const during = await relay.backlog();
  assert.ok(during.pending >= pendingAtStop + steps * 2, `backlog grew to ${during.pending} with ${steps} steps`);
  assert.ok(during.oldestAgeSeconds > 0);
  // While down, the circuit alternates between open and a half-open probe: wait for an open reading.
  await until("the gauge to show an open circuit", async () => {
    const [state] = await metricValues("relay.circuit.state");
    return state === CIRCUIT_STATE_VALUE.open;
  });
  assert.deepEqual(await metricValues("outbox.backlog"), [during.pending]);
  assert.ok(lines.some((line) => line.msg === "relay: circuit open"), "the open circuit is logged");
  assert.equal(healthReports.at(-1), false, "health: the relay is not serving while the circuit is not closed");
  const [failures] = await metricValues("relay.publish.failures");
  assert.ok(failures! > 0, "broker failures are counted");

  await broker.start();
  for (let i = 0; i < 3; i++) await step();

  const rows = await outboxRows(database.handle.db);
  await until("every event to be delivered after the broker came back", () => {
    const seen = new Set(log.events.map((e) => e.eventId));
    return rows.every((row) => seen.has(row.eventId));
  }, { timeoutMs: 60_000 });
  await until("the circuit to close", () => relay.circuitState === "closed");
  const final = await outboxRows(database.handle.db);
  assert.ok(final.every((row) => row.publishedAt && !row.deadAt), "all published, none dead-lettered by the outage");
  assert.deepEqual(orderViolations(log.events, final), [], "per key, Kafka order = outbox order");
  assert.deepEqual(await publishOrderViolations(database.handle.db), []);
  assert.ok(log.events.every((e) => e.problems.length === 0), "every event is schema-valid");
  assert.deepEqual(await metricValues("relay.circuit.state"), [CIRCUIT_STATE_VALUE.closed]);
  assert.deepEqual(await metricValues("outbox.backlog"), [0]);
  assert.equal(healthReports[0], true);
  assert.equal(healthReports.at(-1), true, "health: serving again");
});

it("starts while the broker is down and creates its topics and delivers once it is up", async () => {
  await broker.stop();
  const kafka = kafkaFor(broker.brokers, logger);
  const prefix = uniquePrefix();
  const late = new OutboxRelay(
    { database: database.handle, kafka, wakeups: listenForOutbox(database.handle), logger, instanceId: "late" },
    fastRelayOptions(prefix),
  );
  await late.start();
  try {
    const ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 1 });
    // The first relay is still running too: stop it so that this one has the outbox to itself.
    await relay.stop();
    const account = await ledger.createAccount({ currency: "EUR", displayName: "late", accountId: "" }, ctx);
    await until("the circuit to open with no topics creatable", () => late.circuitState === "open", {
      detail: () => lines.filter((line) => String(line.msg).startsWith("relay")).slice(-20).map((line) => JSON.stringify(line)).join("\n"),
    });
    await broker.start();
    const lateLog = await recordEvents(kafka, prefix, logger);
    try {
      await lateLog.waitFor("the event written while the broker was down", (events) =>
        events.some((e) => e.key === account.accountId && e.eventType === "AccountCreated"), 60_000);
    } finally {
      await lateLog.stop();
    }
  } finally {
    await late.stop();
  }
});
