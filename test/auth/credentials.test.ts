/**
 * Every procedure of every service (API_PROCEDURES) against every kind of bad credential: none, a
 * revoked key, an expired token, a tampered token, a token whose key was revoked, a key without
 * the procedure's scope. Each gets the documented code (UNAUTHENTICATED, or PERMISSION_DENIED for
 * the missing scope) and nothing changes: the row counts of accounts, payments, ledger entries,
 * outbox and API keys are the same before and after, and the ledger's invariants hold. A procedure
 * without a row here fails the test: a new RPC must be added.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { API_PROCEDURES, API_SERVICES, procedureOf } from "../../src/api/procedures.js";
import { SCOPES, type Scope } from "../../src/auth/api-keys.js";
import { requiredScope } from "../../src/auth/auth-interceptor.js";
import { testKey, type TestKey } from "../support/api-keys.js";
import { payloadOf, signToken, tamper, testSigningKey } from "../support/account-tokens.js";
import { adminClient, jsonClients, transportFactories } from "../support/clients.js";
import { assertLedgerInvariants, countRows } from "../support/invariants.js";
import { startTestService, type TestService } from "../support/service.js";
import { until } from "../support/until.js";

const all = testKey("cred-all");
/** One key per scope it lacks: every scope but that one. */
const lacking = Object.fromEntries(SCOPES.map((scope) => [scope, testKey(`cred-no-${scope.replace(":", "-")}`, SCOPES.filter((s) => s !== scope))])) as unknown as Record<Scope, TestKey>;
const k1 = testSigningKey("k1");
let svc: TestService;
let heldPaymentId = "";
let paidPaymentId = "";
const credentials: Record<string, string> = {};

/** A request each procedure would act on (with a good key it would read or change something). */
function requests(): Record<string, Record<string, unknown>> {
  const pay = { payerAccountId: "alice", payeeAccountId: "bob", amountCents: 100n, currency: "USD" };
  return {
    "payment.v1.AccountService/CreateAccount": { accountId: "new-account", currency: "USD", displayName: "New" },
    "payment.v1.AccountService/GetAccount": { accountId: "alice" },
    "payment.v1.AccountService/DepositFunds": { idempotencyKey: "c-dep", accountId: "alice", amountCents: 100n, currency: "USD" },
    "payment.v1.AccountService/ListAccounts": {},
    "payment.v1.AccountService/ListAccountEntries": { accountId: "alice" },
    "payment.v1.AccountService/WatchAccount": { accountId: "alice" },
    "payment.v1.AccountService/WithdrawFunds": { idempotencyKey: "c-wd", accountId: "alice", amountCents: 1n, currency: "USD" },
    "payment.v1.AccountService/UpdateAccount": { accountId: "alice", overdraftLimitCents: 5_000n, updateMask: { paths: ["overdraft_limit_cents"] } },
    "payment.v1.AccountService/WithdrawFundsBatch": { items: [{ idempotencyKey: "c-wdb", accountId: "alice", amountCents: 1n, currency: "USD" }] },
    "payment.v1.AccountService/CloseAccount": { idempotencyKey: "c-close", accountId: "bob" },
    "payment.v1.AccountService/MintAccountToken": { accountIds: ["alice"], scopes: ["read"] },
    "payment.v1.PaymentService/AuthorizePayment": { idempotencyKey: "c-pay", ...pay },
    "payment.v1.PaymentService/GetPayment": { paymentId: paidPaymentId },
    "payment.v1.PaymentService/GetAccountBalance": { accountId: "alice" },
    "payment.v1.PaymentService/ListPayments": { accountId: "alice" },
    "payment.v1.PaymentService/WatchPayments": { accountId: "alice" },
    "payment.v1.PaymentService/CapturePayment": { idempotencyKey: "c-cap", paymentId: heldPaymentId },
    "payment.v1.PaymentService/VoidPayment": { idempotencyKey: "c-void", paymentId: heldPaymentId },
    "payment.v1.PaymentService/RefundPayment": { idempotencyKey: "c-ref", paymentId: paidPaymentId, amountCents: 1n },
    "payment.v1.PaymentService/AuthorizePayments": { items: [{ idempotencyKey: "c-pays", ...pay }] },
    "payment.v1.PaymentService/CapturePayments": { items: [{ idempotencyKey: "c-caps", paymentId: heldPaymentId }] },
    "payment.v1.PaymentService/RefundPayments": { items: [{ idempotencyKey: "c-refs", paymentId: paidPaymentId, amountCents: 1n }] },
    "payment.v1.PaymentService/UpdatePayment": { idempotencyKey: "c-upd", paymentId: paidPaymentId, metadata: { order: "x" } },
    "payment.v1.AdminService/VerifyLedger": {},
    "payment.v1.AdminService/CreateTenant": { tenantId: "new-tenant", displayName: "New" },
    "payment.v1.AdminService/CreateApiKey": { tenantId: "default", clientId: "new-client", scopes: ["read"] },
    "payment.v1.AdminService/ListApiKeys": {},
    "payment.v1.AdminService/RevokeApiKey": { keyId: credentials.liveKeyId },
    "payment.v1.AdminService/ListAuditEvents": {},
  };
}

before(async () => {
  svc = await startTestService({
    AUTH_DISABLED: "false",
    API_KEYS: [all, ...Object.values(lacking)].map((key) => key.entry).join(","),
    TOKEN_SIGNING_KEYS: k1.entry,
  });
  const api = jsonClients(svc.url, all.key);
  for (const accountId of ["alice", "bob"]) await api.accounts.createAccount({ accountId, currency: "USD", displayName: accountId });
  await api.accounts.depositFunds({ idempotencyKey: "seed", accountId: "alice", amountCents: 10_000n, currency: "USD" });
  paidPaymentId = (await api.payments.authorizePayment({ idempotencyKey: "seed-pay", payerAccountId: "alice", payeeAccountId: "bob", amountCents: 500n, currency: "USD" })).payment!.paymentId;
  heldPaymentId = (await api.payments.authorizePayment({ idempotencyKey: "seed-hold", payerAccountId: "alice", payeeAccountId: "bob", amountCents: 500n, currency: "USD", captureMethod: 2 })).payment!.paymentId;

  // A stored key with every scope, one of its tokens, then the key revoked: both must be refused.
  const admin = adminClient(svc.url, all.key);
  const stored = await admin.createApiKey({ tenantId: "default", clientId: "cred-stored", scopes: [...SCOPES] });
  await until("the stored key works", async () => (await codeOf(() => jsonClients(svc.url, stored.key).accounts.getAccount({ accountId: "alice" }))) === "ok", { timeoutMs: 5_000 });
  const everyAccount = { accountIds: ["alice", "bob"], scopes: ["read", "accounts:write", "payments:write"] };
  const revokedToken = (await jsonClients(svc.url, stored.key).accounts.mintAccountToken(everyAccount)).token;
  await admin.revokeApiKey({ keyId: stored.keyId });
  await until("the revoked key is refused", async () => (await codeOf(() => jsonClients(svc.url, stored.key).accounts.getAccount({ accountId: "alice" }))) === Code.Unauthenticated, { timeoutMs: 1_000 });
  credentials.liveKeyId = (await admin.createApiKey({ tenantId: "default", clientId: "cred-live", scopes: ["read"] })).keyId;

  const good = (await jsonClients(svc.url, all.key).accounts.mintAccountToken(everyAccount)).token;
  const now = Math.floor(Date.now() / 1000);
  credentials["a revoked key"] = stored.key;
  credentials["an expired token"] = await signToken(k1, { ...payloadOf(good), iat: now - 1_000, exp: now - 100 });
  credentials["a tampered token"] = tamper(good, (payload) => (payload.scp = [...SCOPES]));
  credentials["a token of a revoked key"] = revokedToken;
});
after(() => svc?.stop());

async function codeOf(call: () => Promise<unknown>): Promise<Code | "ok"> {
  try {
    await call();
    return "ok";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

/** Calls `procedure` with `request`, sending `bearer` (none when undefined); streams: the first message. */
async function call(procedure: string, request: Record<string, unknown>, bearer: string | undefined): Promise<Code | "ok"> {
  const transport = transportFactories["connect-json-http1"]!(svc.url, bearer);
  const service = API_SERVICES.find((candidate) => procedure.startsWith(`${candidate.typeName}/`))!;
  const method = service.methods.find((candidate) => procedureOf(service, candidate) === procedure)!;
  const client = createClient(service, transport) as unknown as Record<string, (request: unknown, options?: unknown) => unknown>;
  const invoke = client[method.localName]!;
  if (method.methodKind === "server_streaming") {
    return codeOf(async () => {
      const controller = new AbortController();
      for await (const _ of invoke(request, { signal: controller.signal }) as AsyncIterable<unknown>) break;
      controller.abort();
    });
  }
  return codeOf(() => invoke(request) as Promise<unknown>);
}

async function counts(): Promise<Record<string, number>> {
  const db = svc.database.handle.db;
  const tables = ["accounts", "payments", "ledger_entries", "outbox", "api_keys", "tenants"];
  return Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await countRows(db, table)] as const)));
}

it("every procedure has a row", () => {
  assert.deepEqual(Object.keys(requests()).sort(), [...API_PROCEDURES].sort());
});

it("bad credentials on every procedure: the documented code, and nothing changes", async () => {
  const before = await counts();
  const outcomes: string[] = [];
  for (const [procedure, request] of Object.entries(requests())) {
    const scope = requiredScope(procedure);
    assert.ok(scope, `${procedure} has a scope`);
    const cases: [string, string | undefined, Code][] = [
      ["no credential", undefined, Code.Unauthenticated],
      ...Object.entries(credentials)
        .filter(([name]) => name !== "liveKeyId")
        .map(([name, bearer]) => [name, bearer, Code.Unauthenticated] as [string, string, Code]),
      [`a key without ${scope}`, lacking[scope].key, Code.PermissionDenied],
    ];
    for (const [name, bearer, expected] of cases) {
      const got = await call(procedure, request, bearer);
      if (got !== expected) outcomes.push(`${procedure} with ${name}: ${got === "ok" ? "ok" : Code[got]}, expected ${Code[expected]}`);
    }
  }
  assert.deepEqual(outcomes, []);
  assert.deepEqual(await counts(), before);
  await assertLedgerInvariants(svc.database.handle.db);
});
