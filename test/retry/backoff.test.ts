import assert from "node:assert/strict";
import { it } from "node:test";
import { backoffDelay } from "../../src/retry/backoff.js";

const policy = { baseMs: 100, maxMs: 5_000 };

it("grows exponentially up to the cap (upper bound of the jitter)", () => {
  const ceiling = (attempts: number) => backoffDelay(policy, attempts, () => 0.999999);
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(ceiling), [99, 199, 399, 799, 1599, 3199, 4999]);
  assert.equal(ceiling(1_000), 4999, "huge attempt counts stay at the cap");
});

it("spreads retries with full jitter between 0 and the ceiling", () => {
  assert.equal(backoffDelay(policy, 4, () => 0), 0);
  const samples = Array.from({ length: 200 }, () => backoffDelay(policy, 4));
  assert.ok(samples.every((ms) => ms >= 0 && ms < 800));
  assert.ok(new Set(samples).size > 50, "delays differ from row to row");
});
