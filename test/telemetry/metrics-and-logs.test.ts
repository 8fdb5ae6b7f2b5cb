/** Prometheus metrics on their own port, and structured logs that correlate and keep secrets out. */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { metrics } from "@opentelemetry/api";
import { sql } from "drizzle-orm";
import { testKey } from "../support/api-keys.js";
import { jsonClients, ledgerClients, transportFactories } from "../support/clients.js";
import { rows } from "../support/invariants.js";
import { startTestService, type TestService } from "../support/service.js";

const key = testKey("observed");
const PASSWORD = "s3cret-pw-never-logged";
let svc: TestService;

before(async () => {
  svc = await startTestService((databaseUrl) => {
    // The test cluster trusts every login, so a password in the URL is accepted and must be masked.
    const url = new URL(databaseUrl);
    url.password = PASSWORD;
    return {
      DATABASE_URL: url.toString(),
      AUTH_DISABLED: "false",
      API_KEYS: key.entry,
      RATE_LIMIT_METHODS: "GetPayment=1",
      RATE_LIMIT_WINDOW_SECONDS: "60",
    };
  });
});
after(() => svc.stop());

async function scrape(): Promise<string> {
  const response = await fetch(svc.service.metricsUrl);
  assert.equal(response.status, 200);
  return response.text();
}

/** The value of the first sample whose name and labels all match. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

it("RPC durations by method and code, limiter rejections, payments by outcome, other modules' instruments", async () => {
  const { accounts, payments } = jsonClients(svc.url, key.key);
  const payer = (await accounts.createAccount({ currency: "USD", displayName: "payer" })).account!.accountId;
  const payee = (await accounts.createAccount({ currency: "USD", displayName: "payee" })).account!.accountId;
  await accounts.depositFunds({ idempotencyKey: "d1", accountId: payer, amountCents: 500n, currency: "USD" });
  const pay = (idempotencyKey: string, amountCents: bigint) =>
    payments.authorizePayment({ idempotencyKey, payerAccountId: payer, payeeAccountId: payee, amountCents, currency: "USD" });
  const paid = (await pay("p1", 200n)).payment!;
  await pay("p2", 10_000n);
  // Replays return the stored payments: they are not new payments and must not be counted again.
  assert.equal((await pay("p1", 200n)).payment!.paymentId, paid.paymentId);
  await pay("p2", 10_000n);
  await payments.getPayment({ paymentId: paid.paymentId });
  await assert.rejects(payments.getPayment({ paymentId: paid.paymentId }), (e: unknown) => ConnectError.from(e).code === Code.ResourceExhausted);
  metrics.getMeter("payment-ledger").createCounter("relay.published").add(3, { topic: "payments" });

  const text = await scrape();
  const authorize = { rpc_method: "payment.v1.PaymentService/AuthorizePayment", rpc_system_name: "connectrpc" };
  assert.equal(sample(text, "rpc_server_call_duration_count", { ...authorize, rpc_status_code: "OK" }), 4, "two payments, two replays");
  assert.ok(sample(text, "rpc_server_call_duration_bucket", { ...authorize, rpc_status_code: "OK", le: "10" }) === 4);
  assert.equal(
    sample(text, "rpc_server_call_duration_count", { rpc_method: "payment.v1.PaymentService/GetPayment", rpc_status_code: "RESOURCE_EXHAUSTED" }),
    1,
  );
  assert.equal(sample(text, "ratelimit_rejections_total", { rpc_method: "payment.v1.PaymentService/GetPayment" }), 1);
  assert.equal(sample(text, "ledger_payments_total", { payment_status: "AUTHORIZED", payment_decline_reason: "UNSPECIFIED" }), 1);
  assert.equal(sample(text, "ledger_payments_total", { payment_status: "DECLINED", payment_decline_reason: "INSUFFICIENT_FUNDS" }), 1);
  assert.equal(sample(text, "relay_published_total", { topic: "payments" }), 3, "the global meter is exported too");
});

it("gRPC-Web calls are labelled grpc_web, gRPC calls grpc", async () => {
  for (const transport of ["grpc-web-http1", "grpc-http2"]) {
    const { accounts } = ledgerClients(transportFactories[transport]!(svc.url, key.key));
    await assert.rejects(accounts.getAccount({ accountId: "nobody" }), (e: unknown) => ConnectError.from(e).code === Code.NotFound);
  }
  const text = await scrape();
  const getAccount = { rpc_method: "payment.v1.AccountService/GetAccount", rpc_status_code: "NOT_FOUND" };
  assert.equal(sample(text, "rpc_server_call_duration_count", { ...getAccount, rpc_system_name: "grpc_web" }), 1);
  assert.equal(sample(text, "rpc_server_call_duration_count", { ...getAccount, rpc_system_name: "grpc" }), 1);
});

it("requests refused before a handler (oversize, undecodable, wrong content type) are counted", async () => {
  const post = (body: string, contentType: string) =>
    fetch(`${svc.url}/payment.v1.AccountService/CreateAccount`, {
      method: "POST",
      headers: { "content-type": contentType, authorization: `Bearer ${key.key}` },
      body,
    });
  const before = sample(await scrape(), "rpc_server_rejected_requests_total", { rpc_method: "payment.v1.AccountService/CreateAccount" }) ?? 0;
  assert.equal((await post("{not json", "application/json")).status, 400);
  assert.equal((await post(JSON.stringify({ displayName: "x".repeat(2 * 1024 * 1024) }), "application/json")).status >= 400, true);
  assert.equal((await post("hello", "text/plain")).status >= 400, true);
  const text = await scrape();
  const counted = text
    .split("\n")
    .filter((l) => l.startsWith("rpc_server_rejected_requests_total{") && l.includes('rpc_method="payment.v1.AccountService/CreateAccount"'))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  assert.equal(counted - before, 3, text.split("\n").filter((l) => l.includes("rejected")).join("\n"));
  assert.equal(sample(text, "rpc_server_rejected_requests_total", { http_response_status_code: "400", rpc_system_name: "connectrpc" }) !== undefined, true);
  // The handler never ran: the call-duration histogram did not see them.
  assert.equal(sample(text, "rpc_server_call_duration_count", { rpc_method: "payment.v1.AccountService/CreateAccount", rpc_status_code: "INVALID_ARGUMENT" }), undefined);
});

it("the resource names the service and its version (target_info)", async () => {
  const line = (await scrape()).split("\n").find((l) => l.startsWith("target_info{"));
  assert.ok(line?.includes('service_name="payment-ledger"'), line);
  assert.match(line!, /service_version="\d+\.\d+\.\d+"/);
});

it("metrics listen on their own loopback port, not on the API port", async () => {
  assert.match(svc.service.metricsUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  assert.notEqual(new URL(svc.service.metricsUrl).port, String(svc.service.port));
  assert.equal((await fetch(`${svc.url}/metrics`)).status, 404);
});

it("each RPC logs one line with request id, trace id, client, method and code", async () => {
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const response = await fetch(`${svc.url}/payment.v1.AccountService/GetAccount`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${key.key}`,
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      "x-request-id": "req-from-caller-1",
    },
    body: JSON.stringify({ accountId: "missing" }),
  });
  assert.equal(response.status, 404);
  assert.equal(response.headers.get("x-request-id"), "req-from-caller-1");
  const line = svc.logs.find((l) => l.msg === "rpc" && l.requestId === "req-from-caller-1");
  assert.deepEqual(
    { ...line, time: undefined, durationMs: undefined },
    {
      level: 30,
      time: undefined,
      service: "payment-ledger",
      requestId: "req-from-caller-1",
      traceId,
      clientId: key.clientId,
      procedure: "payment.v1.AccountService/GetAccount",
      protocol: "application/json",
      status: "NOT_FOUND",
      durationMs: undefined,
      msg: "rpc",
    },
  );
  const untraced = svc.logs.filter((l) => l.msg === "rpc" && l.requestId !== "req-from-caller-1");
  assert.ok(untraced.length > 0 && untraced.every((l) => /^[0-9a-f]{32}$/.test(String(l.traceId))), "a trace starts here when none came in");
});

it("a write's log line and its outbox event share one trace id, started here when none came in", async () => {
  const { accounts } = jsonClients(svc.url, key.key);
  const { account } = await accounts.createAccount({ currency: "USD", displayName: "traced" }, { headers: { "x-request-id": "trace-check-1" } });
  const line = svc.logs.find((l) => l.requestId === "trace-check-1");
  assert.match(String(line?.traceId), /^[0-9a-f]{32}$/);
  const [event] = await rows(svc.database.handle.db, sql`select traceparent from outbox where aggregate_id = ${account!.accountId}`);
  assert.equal(String(event?.traceparent).split("-")[1], line?.traceId);
});

it("neither API keys nor URL passwords reach the log", () => {
  const log = JSON.stringify(svc.logs);
  assert.ok(!log.includes(key.key));
  assert.ok(!log.includes(PASSWORD));
  assert.ok(svc.logs.some((l) => String(l.location).includes(":***@")), "the masked URL is what is logged");
});
