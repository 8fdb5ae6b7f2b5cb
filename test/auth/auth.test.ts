/** Authentication and scopes end to end: real service, every client protocol. */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { testKey } from "../support/api-keys.js";
import { jsonClients, ledgerClients, transportFactories } from "../support/clients.js";
import { startTestService, type TestService } from "../support/service.js";

const writer = testKey("writer");
const otherWriter = testKey("other-writer");
const reader = testKey("reader", ["read"]);
let svc: TestService;

before(async () => {
  svc = await startTestService({ AUTH_DISABLED: "false", API_KEYS: [writer, otherWriter, reader].map((k) => k.entry).join(",") });
});
after(() => svc.stop());

async function codeOf(call: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await call;
    return "ok";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

for (const protocol of ["connect-json-http1", "connect-binary-http2", "grpc-http2", "grpc-web-http1"]) {
  it(`${protocol}: no key, a wrong key, a missing scope and a good key`, async () => {
    const request = { currency: "EUR", displayName: "auth test" };
    const anonymous = ledgerClients(transportFactories[protocol]!(svc.url));
    assert.equal(await codeOf(anonymous.accounts.createAccount(request)), Code.Unauthenticated);
    const stranger = ledgerClients(transportFactories[protocol]!(svc.url, "pl_not-a-configured-key"));
    assert.equal(await codeOf(stranger.accounts.createAccount(request)), Code.Unauthenticated);

    const readOnly = ledgerClients(transportFactories[protocol]!(svc.url, reader.key));
    assert.equal(await codeOf(readOnly.accounts.createAccount(request)), Code.PermissionDenied);
    const authorized = ledgerClients(transportFactories[protocol]!(svc.url, writer.key));
    const { account } = await authorized.accounts.createAccount(request);
    assert.ok(account?.accountId);
    const read = await readOnly.payments.getAccountBalance({ accountId: account.accountId });
    assert.equal(read.availableBalanceCents, 0n, "read scope may read");
    assert.equal(
      await codeOf(readOnly.payments.authorizePayment({ idempotencyKey: "k", payerAccountId: account.accountId, payeeAccountId: "x", amountCents: 1n, currency: "EUR" })),
      Code.PermissionDenied,
    );
  });
}

it("curl-style JSON: the error says what to send, with HTTP 401 and 403", async () => {
  const post = (key?: string) =>
    fetch(`${svc.url}/payment.v1.AccountService/CreateAccount`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(key ? { authorization: key } : {}) },
      body: JSON.stringify({ currency: "USD", displayName: "curl" }),
    });
  const missing = await post();
  assert.equal(missing.status, 401);
  const missingBody = (await missing.json()) as { code: string; message: string; details: { debug: { code: string } }[] };
  assert.deepEqual([missingBody.code, missingBody.message, missingBody.details[0]?.debug.code], ["unauthenticated", "missing API key: send the header Authorization: Bearer <key>", "UNAUTHENTICATED"]);
  const basic = await post("Basic dXNlcjpwYXNz");
  assert.match(((await basic.json()) as { message: string }).message, /malformed Authorization header/);
  const denied = await post(`Bearer ${reader.key}`);
  assert.equal(denied.status, 403);
  assert.match(((await denied.json()) as { message: string }).message, new RegExp(`client ${reader.clientId} lacks scope accounts:write`));
});

it("health needs no key", async () => {
  const health = createClient(Health, createConnectTransport({ baseUrl: svc.url, httpVersion: "1.1" }));
  assert.equal((await health.check({})).status, HealthCheckResponse_ServingStatus.SERVING);
});

it("idempotency keys are scoped per client: the same key from two clients is two deposits", async () => {
  const mine = jsonClients(svc.url, writer.key);
  const theirs = jsonClients(svc.url, otherWriter.key);
  const { account } = await mine.accounts.createAccount({ currency: "USD", displayName: "shared" });
  const deposit = { idempotencyKey: "same-key", accountId: account!.accountId, amountCents: 100n, currency: "USD" };
  const first = await mine.accounts.depositFunds(deposit);
  const replay = await mine.accounts.depositFunds(deposit);
  const other = await theirs.accounts.depositFunds(deposit);
  assert.equal(replay.deposit?.depositId, first.deposit?.depositId, "a client's retry is a replay");
  assert.notEqual(other.deposit?.depositId, first.deposit?.depositId, "another client's key is its own");
  assert.equal((await mine.payments.getAccountBalance({ accountId: account!.accountId })).availableBalanceCents, 200n);
});

it("keys never reach the log; the authenticated client does", () => {
  const log = JSON.stringify(svc.logs);
  for (const { key } of [writer, otherWriter, reader]) assert.ok(!log.includes(key), "no API key in the log");
  assert.ok(!log.includes("Bearer"), "no Authorization header in the log");
  assert.ok(svc.logs.some((line) => line.msg === "rpc" && line.clientId === writer.clientId));
});
