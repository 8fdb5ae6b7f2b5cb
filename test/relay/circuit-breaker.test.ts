import assert from "node:assert/strict";
import { it } from "node:test";
import { CircuitBreaker, type CircuitState } from "../../src/relay/circuit-breaker.js";

function breaker() {
  let now = 0;
  const changes: CircuitState[] = [];
  const cb = new CircuitBreaker({
    threshold: 3,
    cooldownMs: 100,
    maxCooldownMs: 350,
    now: () => now,
    onChange: (state) => changes.push(state),
  });
  return { cb, changes, advance: (ms: number) => (now += ms) };
}

it("opens after the threshold of consecutive failures, not before", () => {
  const { cb } = breaker();
  cb.failure();
  cb.failure();
  cb.success();
  cb.failure();
  cb.failure();
  assert.equal(cb.state, "closed", "a success in between resets the count");
  cb.failure();
  assert.equal(cb.state, "open");
  assert.equal(cb.waitMs(), 100);
});

it("probes once after the cool-down, doubles it on a failed probe up to the cap, closes on success", () => {
  const { cb, changes, advance } = breaker();
  for (let i = 0; i < 3; i++) cb.failure();
  advance(99);
  assert.equal(cb.waitMs(), 1);
  advance(1);
  assert.equal(cb.waitMs(), 0);
  assert.equal(cb.state, "half-open");
  cb.failure();
  assert.equal(cb.state, "open");
  assert.equal(cb.waitMs(), 200);
  advance(200);
  cb.waitMs();
  cb.failure();
  assert.equal(cb.waitMs(), 350, "capped");
  advance(350);
  cb.waitMs();
  cb.success();
  assert.equal(cb.state, "closed");
  assert.equal(cb.waitMs(), 0);
  assert.deepEqual(changes, ["open", "half-open", "open", "half-open", "open", "half-open", "closed"]);
  // After closing, the cool-down starts from the beginning again.
  for (let i = 0; i < 3; i++) cb.failure();
  assert.equal(cb.waitMs(), 100);
});
