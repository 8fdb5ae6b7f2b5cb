/**
 * Runs the k6 smoke scenario (k6/scenarios/smoke.js) against the real service, started as a child
 * process on the harness PostgreSQL, over Connect JSON (HTTP/1.1) and gRPC (HTTP/2). k6 judges the
 * contract with checks and thresholds; this test asserts k6's verdict and that both protocols
 * really ran. A negative control proves a broken service makes the same run fail.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, it } from "node:test";
import { runK6, type K6Summary } from "../../scripts/bench/k6-runner.js";
import { startService, type ServiceProcess } from "../../scripts/bench/service-process.js";

const ITERATIONS = 3;
let service: ServiceProcess;

before(async () => {
  const databaseUrl = process.env.DATABASE_URL;
  assert.ok(databaseUrl, "DATABASE_URL is set by scripts/test.sh");
  service = await startService(databaseUrl);
});

after(async () => {
  await service?.stop();
});

function checkCounts(summary: K6Summary, protocol: string): { passes: number; fails: number } {
  const values = summary.metrics[`checks{scenario:${protocol}}`]?.values;
  return { passes: values?.passes ?? 0, fails: values?.fails ?? 0 };
}

it("the smoke scenario passes over Connect JSON and gRPC", async () => {
  const result = await runK6("smoke", {
    env: { BASE_URL: service.baseUrl, API_KEY: service.apiKey, ACCOUNTS: 4, ITERATIONS },
  });
  assert.equal(result.exitCode, 0, `k6 failed:\n${result.output}\n--- service output ---\n${service.output()}`);
  assert.ok(result.summary, "k6 wrote its summary");
  for (const protocol of ["connect", "grpc"]) {
    const { passes, fails } = checkCounts(result.summary, protocol);
    // Five checks per iteration: authorized, replay, GetPayment, balance, overdraft declined.
    assert.deepEqual({ protocol, passes, fails }, { protocol, passes: 5 * ITERATIONS, fails: 0 });
  }
  assert.equal(result.summary.metrics.payments_authorized?.values.count, 2 * ITERATIONS);
});

it("negative control: the same run fails against a service that rejects payments", async (t) => {
  // Answers every Connect call with an error, as a broken ledger would; gRPC has nothing to talk to.
  const broken = createServer((_req, res) => {
    res.writeHead(503, { "Content-Type": "application/json" }).end('{"code":"unavailable","message":"broken"}');
  });
  await new Promise<void>((ok) => broken.listen(0, "127.0.0.1", ok));
  t.after(() => broken.close());
  const address = broken.address();
  assert.ok(address && typeof address === "object");
  const result = await runK6("smoke", {
    // Pretend the accounts exist so the run reaches the payments instead of aborting in setup.
    env: { BASE_URL: `http://127.0.0.1:${address.port}`, PROTOCOLS: "connect", SEEDED_PREFIX: "none-", ITERATIONS: 1 },
  });
  assert.equal(result.exitCode, 99, `k6 should fail its thresholds:\n${result.output}`);
  assert.ok(result.summary && checkCounts(result.summary, "connect").fails > 0);
});

it("the batch scenario authorizes every item of its AuthorizePayments requests over Connect JSON and gRPC", async () => {
  const BATCH_SIZE = 20;
  const result = await runK6("batch", {
    env: { BASE_URL: service.baseUrl, API_KEY: service.apiKey, ACCOUNTS: 6, VUS: 2, DURATION: "2s", BATCH_SIZE },
  });
  assert.equal(result.exitCode, 0, `k6 failed:\n${result.output}\n--- service output ---\n${service.output()}`);
  assert.ok(result.summary, "k6 wrote its summary");
  let requests = 0;
  for (const protocol of ["connect", "grpc"]) {
    const { passes, fails } = checkCounts(result.summary, protocol);
    assert.ok(passes > 0, `${protocol} sent batches`);
    assert.equal(fails, 0, `${protocol}: every item of every batch authorized`);
    requests += passes;
  }
  assert.equal(result.summary.metrics.payments_authorized?.values.count, requests * BATCH_SIZE);
});
