import assert from "node:assert/strict";
import { it } from "node:test";
import { retryTransient, sqlState } from "../../src/ledger/transient-retry.js";

const pgError = (code: string) => Object.assign(new Error("wrapped"), { cause: Object.assign(new Error(code), { code }) });

it("finds the SQLSTATE through driver wrapping", () => {
  assert.equal(sqlState(pgError("40P01")), "40P01");
  assert.equal(sqlState(new Error("plain")), undefined);
});

it("retries serialization failures and deadlocks, then succeeds", async () => {
  let calls = 0;
  const result = await retryTransient(async () => {
    calls++;
    if (calls === 1) throw pgError("40001");
    if (calls === 2) throw pgError("40P01");
    return "done";
  }, { attempts: 5, baseDelayMs: 1 });
  assert.equal(result, "done");
  assert.equal(calls, 3);
});

it("gives up after the bounded attempts with CONTENTION", async () => {
  let calls = 0;
  await assert.rejects(
    retryTransient(async () => {
      calls++;
      throw pgError("40001");
    }, { attempts: 3, baseDelayMs: 1 }),
    { name: "LedgerError", code: "CONTENTION" },
  );
  assert.equal(calls, 3);
});

it("does not retry other failures", async () => {
  let calls = 0;
  await assert.rejects(retryTransient(async () => {
    calls++;
    throw pgError("23505");
  }), /wrapped/);
  assert.equal(calls, 1);
});
