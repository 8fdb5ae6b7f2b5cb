/** Rate limits through the running service with the harness's Redis: codes, retry delays, exemptions. */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { testKey } from "../support/api-keys.js";
import { jsonClients, ledgerClients, transportFactories } from "../support/clients.js";
import { startTestService, type TestService } from "../support/service.js";

const alice = testKey("alice");
const bob = testKey("bob");
let svc: TestService;

before(async () => {
  assert.ok(process.env.REDIS_URL, "REDIS_URL is set by scripts/test.sh (scripts/services/redis.sh)");
  svc = await startTestService({
    AUTH_DISABLED: "false",
    API_KEYS: `${alice.entry},${bob.entry}`,
    REDIS_URL: process.env.REDIS_URL,
    RATE_LIMIT_POINTS: "1000",
    RATE_LIMIT_WINDOW_SECONDS: "60",
    RATE_LIMIT_METHODS: "GetAccountBalance=3",
  });
});
after(() => svc.stop());

for (const protocol of ["connect-json-http1", "grpc-http2"]) {
  it(`${protocol}: the call over the limit is RESOURCE_EXHAUSTED with retry-after`, async () => {
    // Each protocol has its own client, hence its own budget.
    const key = protocol === "grpc-http2" ? bob.key : alice.key;
    const { payments } = ledgerClients(transportFactories[protocol]!(svc.url, key));
    const results = [];
    for (let i = 0; i < 4; i++) {
      results.push(await payments.getAccountBalance({ accountId: "nobody" }).then(() => "ok", (e) => e as ConnectError));
    }
    assert.deepEqual(results.slice(0, 3).map((r) => (r instanceof ConnectError ? r.code : r)), [Code.NotFound, Code.NotFound, Code.NotFound]);
    const refused = results[3];
    assert.ok(refused instanceof ConnectError);
    assert.equal(refused.code, Code.ResourceExhausted);
    assert.match(refused.rawMessage, /^rate limit exceeded for payment\.v1\.PaymentService\/GetAccountBalance: retry in \d+ ms$/);
    const seconds = Number(refused.metadata.get("retry-after"));
    assert.ok(seconds >= 1 && seconds <= 60, `retry-after ${seconds}`);
    assert.ok(Number(refused.metadata.get("retry-after-ms")) > 0);
    assert.ok(refused.metadata.get("x-request-id"), "refusals carry a request id too");
  });
}

it("other methods keep the default limit, health is never limited", async () => {
  const { accounts } = jsonClients(svc.url, alice.key);
  for (let i = 0; i < 5; i++) await accounts.createAccount({ currency: "USD", displayName: `n${i}` });
  const health = createClient(Health, createGrpcTransport({ baseUrl: svc.url }));
  for (let i = 0; i < 10; i++) await health.check({});
});

it("curl sees HTTP 429 and a Retry-After header", async () => {
  // alice spent her GetAccountBalance budget in the first test.
  const response = await fetch(`${svc.url}/payment.v1.PaymentService/GetAccountBalance`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${alice.key}` },
    body: JSON.stringify({ accountId: "nobody" }),
  });
  assert.equal(response.status, 429);
  assert.ok(Number(response.headers.get("retry-after")) >= 1);
  assert.equal(((await response.json()) as { code: string }).code, "resource_exhausted");
});
