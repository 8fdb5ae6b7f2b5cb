/**
 * The patched postgres.js (patches/postgres+3.4.9.patch, applied by `npm ci` through patch-package)
 * survives backends dying under it. Each scenario runs in a child process
 * (test/db/fixtures/driver-faults.ts) because the unpatched driver throws from a setImmediate and
 * would take the test runner down with it; the child exits 0 only if every query settled with a
 * catchable error and the pool served again at once.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { serverUrl } from "../support/database.js";

async function runScenario(scenario: string): Promise<{ code: number | null; output: string }> {
  const applicationName = `driver-faults-${scenario}-${process.pid}`;
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "test/db/fixtures/driver-faults.ts", scenario, serverUrl(), applicationName],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  // A hang (a query never settled) is a failure too: unpatched, `reserved` can wait forever.
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [code] = await once(child, "exit");
  clearTimeout(timer);
  return { code: code as number | null, output };
}

test("a reserved connection whose backend was terminated rejects its queries instead of crashing", async () => {
  // porsager/postgres#1208: unpatched, "Cannot read properties of null (reading 'write')" ends the process.
  const { code, output } = await runScenario("reserved");
  assert.equal(code, 0, output);
  assert.match(output, /driver-faults: done/);
  assert.doesNotMatch(output, /reading 'write'/);
});

test("64 concurrent queries while every backend is terminated 10 times: all settle, the pool recovers", async () => {
  // Unpatched: connections keep a stale write timer or a dead query and never flush again
  // (LanternOps/breeze#3225), so later queries fail with CONNECT_TIMEOUT or hang.
  const { code, output } = await runScenario("load");
  assert.equal(code, 0, output);
  assert.match(output, /under load: \d+ queries ok/);
  assert.match(output, /recovered: 16 queries/);
});
