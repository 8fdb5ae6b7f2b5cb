/** gRPC health (Check, List, Watch) and the HTTP probes, following database, relay and shutdown. */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import { pingDatabase } from "../../src/health/database-probe.js";
import postgres from "postgres";
import { createTestDatabase, serverUrl } from "../support/database.js";
import { until } from "../support/until.js";
import { startTestService, type TestService } from "../support/service.js";

const ACCOUNTS = "payment.v1.AccountService";
const PAYMENTS = "payment.v1.PaymentService";
const ADMIN = "payment.v1.AdminService";
let svc: TestService;
let health: ReturnType<typeof createClient<typeof Health>>;

before(async () => {
  svc = await startTestService({ SHUTDOWN_DRAIN_DELAY_MS: "1000" });
  health = createClient(Health, createGrpcTransport({ baseUrl: svc.url }));
});
after(() => svc.stop());

const probe = async (path: string) => {
  const response = await fetch(`${svc.url}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

it("Check and List: the server and each API service serve; unknown services are NOT_FOUND", async () => {
  assert.equal((await health.check({ service: "" })).status, Status.SERVING);
  assert.equal((await health.check({ service: ACCOUNTS })).status, Status.SERVING);
  await assert.rejects(health.check({ service: "payment.v1.Nope" }), (error: unknown) => {
    assert.equal(ConnectError.from(error).code, Code.NotFound);
    return true;
  });
  const { statuses } = await health.list({});
  assert.deepEqual(
    Object.fromEntries(Object.entries(statuses).map(([name, response]) => [name, response.status])),
    { "": Status.SERVING, [ACCOUNTS]: Status.SERVING, [PAYMENTS]: Status.SERVING, [ADMIN]: Status.SERVING },
  );
  assert.deepEqual(await probe("/readyz"), { status: 200, body: { status: "ready", draining: false, components: { database: true } } });
});

it("Watch follows the relay: the server as a whole is NOT_SERVING while API services still serve", async () => {
  const abort = new AbortController();
  const watch = health.watch({ service: "" }, { signal: abort.signal })[Symbol.asyncIterator]();
  assert.equal((await watch.next()).value?.status, Status.SERVING);
  svc.service.health.report("relay", false);
  assert.equal((await watch.next()).value?.status, Status.NOT_SERVING);
  assert.equal((await health.check({ service: PAYMENTS })).status, Status.SERVING, "payments go to the outbox meanwhile");
  const ready = await probe("/readyz");
  assert.equal(ready.status, 200, "a broker outage must not take every instance out of rotation");
  assert.deepEqual(ready.body.components, { database: true, relay: false });
  svc.service.health.report("relay", true);
  assert.equal((await watch.next()).value?.status, Status.SERVING);
  abort.abort();
});

it("a database outage makes the API services NOT_SERVING and /readyz 503", async () => {
  // A real outage of this file's database (the probe pings every 250 ms, so a hand-made report
  // would be overwritten): refuse new connections and end the service's current ones.
  const name = new URL(svc.database.url).pathname.slice(1);
  const admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`alter database ${name} with allow_connections false`);
    await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name}`;
    await until("readiness 503", async () => (await probe("/readyz")).status === 503, { timeoutMs: 10_000 });
    assert.equal((await health.check({ service: ACCOUNTS })).status, Status.NOT_SERVING);
  } finally {
    await admin.unsafe(`alter database ${name} with allow_connections true`);
    await admin.end();
  }
  await until("readiness 200 again", async () => (await probe("/readyz")).status === 200, { timeoutMs: 10_000 });
  assert.equal((await health.check({ service: ACCOUNTS })).status, Status.SERVING);
});

it("Watch of an unknown service says SERVICE_UNKNOWN instead of failing", async () => {
  const abort = new AbortController();
  const watch = health.watch({ service: "payment.v1.Later" }, { signal: abort.signal })[Symbol.asyncIterator]();
  assert.equal((await watch.next()).value?.status, Status.SERVICE_UNKNOWN);
  abort.abort();
});

it("the database probe answers true when reachable and false once it is gone", async () => {
  const database = await createTestDatabase();
  assert.equal(await pingDatabase(database.handle.db), true);
  await database.drop();
  assert.equal(await pingDatabase(database.handle.db), false);
});

it("shutdown: NOT_SERVING during the drain delay, watchers told and released, liveness still up", async () => {
  const watch = health.watch({ service: PAYMENTS })[Symbol.asyncIterator]();
  assert.equal((await watch.next()).value?.status, Status.SERVING);
  const stopping = svc.service.stop();
  assert.equal((await watch.next()).value?.status, Status.NOT_SERVING);
  assert.equal((await watch.next()).done, true, "the stream ends so it does not hold the server open");
  assert.equal((await health.check({ service: "" })).status, Status.NOT_SERVING);
  const ready = await probe("/readyz");
  assert.equal(ready.status, 503);
  assert.equal(ready.body.draining, true);
  assert.equal((await probe("/healthz")).status, 200);
  await stopping;
});
