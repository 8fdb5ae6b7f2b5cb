/** The admission of batch requests' items: capacity, first come first served, abort while waiting. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { ItemGate } from "../../src/ledger/item-gate.js";

const settled = async (promise: Promise<unknown>) => {
  let done = false;
  void promise.then(() => (done = true), () => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

it("admits up to its capacity, then in arrival order as items are released", async () => {
  const gate = new ItemGate(10);
  const first = await gate.enter(6);
  const second = gate.enter(6);
  const third = gate.enter(1);
  assert.deepEqual([await settled(second), await settled(third)], [false, false], "the third waits behind the second, though it fits");
  first();
  const releaseSecond = await second;
  const releaseThird = await third;
  assert.equal(gate.admitted, 7);
  releaseSecond();
  releaseSecond(); // idempotent
  releaseThird();
  assert.equal(gate.admitted, 0);
});

it("admits a request larger than the capacity alone", async () => {
  const gate = new ItemGate(10);
  const big = await gate.enter(25);
  const small = gate.enter(1);
  assert.equal(await settled(small), false);
  big();
  (await small)();
  assert.equal(gate.admitted, 0);
});

it("drops a waiter whose request is aborted and admits the next", async () => {
  const gate = new ItemGate(10);
  const held = await gate.enter(10);
  const abort = new AbortController();
  const aborted = gate.enter(5, abort.signal);
  const next = gate.enter(5);
  abort.abort(new Error("client went away"));
  await assert.rejects(aborted, /client went away/);
  assert.equal(await settled(next), false);
  held();
  (await next)();
  assert.equal(gate.admitted, 0);
  await assert.rejects(gate.enter(1, AbortSignal.abort(new Error("already gone"))), /already gone/);
});
