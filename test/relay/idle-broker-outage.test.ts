/**
 * An idle relay (no payments, nothing to deliver) still notices the broker going away: health
 * reports it not serving and the circuit opens during the outage, not at the first delivery after
 * it; both recover once the broker is back. Private broker: stopping the harness's would break
 * files running in parallel.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { OutboxRelay } from "../../src/relay/relay.js";
import { listenForOutbox } from "../../src/relay/wakeup.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { until } from "../support/until.js";
import { capturingLogger, fastRelayOptions, kafkaFor, startPrivateBroker, uniquePrefix, type PrivateBroker } from "./fixtures.js";

let broker: PrivateBroker;
let database: TestDatabase;
let relay: OutboxRelay;
let serving: boolean | undefined;

before(async () => {
  [broker, database] = await Promise.all([startPrivateBroker(), createTestDatabase()]);
  const { logger } = capturingLogger();
  relay = new OutboxRelay(
    {
      database: database.handle,
      kafka: kafkaFor(broker.brokers, logger),
      wakeups: listenForOutbox(database.handle),
      logger,
      instanceId: "idle-outage",
      health: { report: (component, state) => void (component === "relay" && (serving = state)) },
    },
    fastRelayOptions(uniquePrefix()),
  );
  await relay.start();
});

after(async () => {
  await relay?.stop();
  await database?.drop();
  await broker?.destroy();
});

it("reports not serving and opens the circuit while the broker is away, with nothing to deliver", async () => {
  await until("the relay serving", () => serving === true && relay.circuitState === "closed", { timeoutMs: 30_000 });
  await new Promise((resolve) => setTimeout(resolve, 1_500)); // topics created, idle probing under way
  await broker.stop();
  const stoppedAt = performance.now();
  await until("health: relay not serving", () => serving === false, { timeoutMs: 15_000 });
  const notServingMs = performance.now() - stoppedAt;
  await until("the circuit open during the outage", () => relay.circuitState === "open", { timeoutMs: 20_000 });
  const openMs = performance.now() - stoppedAt;

  await broker.start();
  const startedAt = performance.now();
  await until("health: relay serving again", () => serving === true && relay.circuitState === "closed", { timeoutMs: 30_000 });
  console.log(
    `idle relay: not serving ${Math.round(notServingMs)} ms and circuit open ${Math.round(openMs)} ms after the broker stopped; ` +
      `serving ${Math.round(performance.now() - startedAt)} ms after it was back`,
  );
  assert.equal(serving, true);
});
