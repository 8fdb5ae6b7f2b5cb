/**
 * Tenant confinement through the real server (issue 21): API_KEYS holds keys of tenants `a` and
 * `b` (every scope); both make accounts and payments; then EVERY procedure of the one procedure list
 * (src/api/procedures.ts) is called with b's key on a's account or payment. Each answers what
 * docs/tenants.md documents: NOT_FOUND exactly as for a missing id, or the confined result of a
 * list or watch (only b's own); nothing changes (balances, entries, payments, outbox, audit); the
 * invariant checker and VerifyLedger stay clean. Also CreateTenant and ListAuditEvents.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { sql } from "drizzle-orm";
import { AdminService } from "../../gen/payment/v1/admin_pb.js";
import { ErrorDetailSchema } from "../../gen/payment/v1/common_pb.js";
import { CaptureMethod } from "../../gen/payment/v1/payment_pb.js";
import { GLOBAL_SCOPES, SCOPES, formatEntry, generateApiKey, hashApiKey, type Scope } from "../../src/auth/api-keys.js";
import { API_PROCEDURES } from "../../src/api/procedures.js";
import { ulid } from "../../src/ids/ulid.js";
import { jsonClients, transportFactories, type LedgerClients } from "../support/clients.js";
import { testSigningKey } from "../support/account-tokens.js";
import { rejectsWith } from "../support/connect-errors.js";
import { assertLedgerInvariants, rows } from "../support/invariants.js";
import { startTestService, type TestService } from "../support/service.js";

interface TenantApi extends LedgerClients {
  admin: Client<typeof AdminService>;
}

/** A's objects, aimed at by b. */
interface Targets {
  account: string;
  other: string;
  held: string;
  paid: string;
  own: string;
  ownPayment: string;
}

/** What a call must come to: a Connect code with the catalogue's stable code, or a check of its answer. */
type Expect = { code: Code; detail: string } | { check: (answer: unknown) => void };

const notFoundAccount: Expect = { code: Code.NotFound, detail: "ACCOUNT_NOT_FOUND" };
const notFoundPayment: Expect = { code: Code.NotFound, detail: "PAYMENT_NOT_FOUND" };
/** Every scope a tenant's key may hold. */
const TENANT_SCOPES = SCOPES.filter((scope) => !GLOBAL_SCOPES.includes(scope));
const operatorsOnly: Expect = { code: Code.PermissionDenied, detail: "PERMISSION_DENIED" };
/** A batch answers per item: the item's error is what a single call gets. */
const itemError = (detail: string): Expect => ({
  check: (answer) => {
    const outcome = (answer as { outcomes: { outcome: { case: string; value: { code?: string } } }[] }).outcomes[0]!.outcome;
    assert.equal(outcome.case, "error", JSON.stringify(outcome));
    assert.equal(outcome.value.code, detail);
  },
});

/** The first message of a stream (watches fail on their first read). */
async function first<T>(stream: AsyncIterable<T>, abort: AbortController): Promise<T> {
  try {
    for await (const message of stream) return message;
    throw new Error("stream ended without a message");
  } finally {
    abort.abort();
  }
}

/**
 * One row per procedure: b's call aimed at a's objects, and what it must answer. The test fails
 * when a procedure of API_PROCEDURES has no row here.
 */
const TABLE: Record<string, { call: (b: TenantApi, t: Targets, k: () => string) => Promise<unknown>; expect: Expect }> = {
  "payment.v1.AccountService/CreateAccount": {
    // Account ids are unique in the whole ledger: the id is taken (documented), nothing is revealed beyond that.
    call: (b, t) => b.accounts.createAccount({ accountId: t.account, currency: "EUR", displayName: "a-payer" }),
    expect: { code: Code.AlreadyExists, detail: "ACCOUNT_ALREADY_EXISTS" },
  },
  "payment.v1.AccountService/GetAccount": { call: (b, t) => b.accounts.getAccount({ accountId: t.account }), expect: notFoundAccount },
  "payment.v1.AccountService/DepositFunds": {
    call: (b, t, k) => b.accounts.depositFunds({ idempotencyKey: k(), accountId: t.account, amountCents: 5n, currency: "EUR" }),
    expect: notFoundAccount,
  },
  "payment.v1.AccountService/ListAccounts": {
    call: (b) => b.accounts.listAccounts({ pageSize: 500 }),
    expect: { check: (answer) => assert.deepEqual((answer as { accounts: { tenantId: string }[] }).accounts.map((a) => a.tenantId), ["b", "b"]) },
  },
  "payment.v1.AccountService/ListAccountEntries": {
    call: (b, t) => b.accounts.listAccountEntries({ accountId: t.account, pageSize: 10 }),
    expect: notFoundAccount,
  },
  "payment.v1.AccountService/WatchAccount": {
    call: (b, t) => {
      const abort = new AbortController();
      return first(b.accounts.watchAccount({ accountId: t.account }, { signal: abort.signal }), abort);
    },
    expect: notFoundAccount,
  },
  "payment.v1.AccountService/WithdrawFunds": {
    call: (b, t, k) => b.accounts.withdrawFunds({ idempotencyKey: k(), accountId: t.account, amountCents: 5n, currency: "EUR" }),
    expect: notFoundAccount,
  },
  "payment.v1.AccountService/WithdrawFundsBatch": {
    call: (b, t, k) => b.accounts.withdrawFundsBatch({ items: [{ idempotencyKey: k(), accountId: t.account, amountCents: 5n, currency: "EUR" }] }),
    expect: itemError("ACCOUNT_NOT_FOUND"),
  },
  "payment.v1.AccountService/UpdateAccount": {
    call: (b, t, k) => b.accounts.updateAccount({ idempotencyKey: k(), accountId: t.account, overdraftLimitCents: 1000n }),
    expect: notFoundAccount,
  },
  "payment.v1.AccountService/CloseAccount": {
    call: (b, t, k) => b.accounts.closeAccount({ idempotencyKey: k(), accountId: t.other }),
    expect: notFoundAccount,
  },
  "payment.v1.AccountService/MintAccountToken": {
    call: (b, t) => b.accounts.mintAccountToken({ accountIds: [t.account], scopes: ["read"], ttlSeconds: 60 }),
    expect: notFoundAccount,
  },
  "payment.v1.PaymentService/AuthorizePayment": {
    call: (b, t, k) =>
      b.payments.authorizePayment({ idempotencyKey: k(), payerAccountId: t.account, payeeAccountId: t.own, amountCents: 5n, currency: "EUR" }),
    expect: notFoundAccount,
  },
  "payment.v1.PaymentService/GetPayment": { call: (b, t) => b.payments.getPayment({ paymentId: t.paid }), expect: notFoundPayment },
  "payment.v1.PaymentService/GetAccountBalance": {
    call: (b, t) => b.payments.getAccountBalance({ accountId: t.account }),
    expect: notFoundAccount,
  },
  "payment.v1.PaymentService/ListPayments": {
    call: async (b, t) => {
      const ofAccount = await b.payments.listPayments({ accountId: t.account, pageSize: 500 });
      assert.deepEqual(ofAccount.payments, [], "another tenant's account lists nothing, as a missing one");
      return b.payments.listPayments({ pageSize: 500 });
    },
    expect: { check: (answer) => assert.deepEqual((answer as { payments: { paymentId: string }[] }).payments.map((p) => p.paymentId).length, 1) },
  },
  "payment.v1.PaymentService/WatchPayments": {
    call: (b, t) => {
      const abort = new AbortController();
      return first(b.payments.watchPayments({ accountId: t.account }, { signal: abort.signal }), abort);
    },
    expect: notFoundAccount,
  },
  "payment.v1.PaymentService/CapturePayment": {
    call: (b, t, k) => b.payments.capturePayment({ idempotencyKey: k(), paymentId: t.held }),
    expect: notFoundPayment,
  },
  "payment.v1.PaymentService/VoidPayment": { call: (b, t, k) => b.payments.voidPayment({ idempotencyKey: k(), paymentId: t.held }), expect: notFoundPayment },
  "payment.v1.PaymentService/RefundPayment": {
    call: (b, t, k) => b.payments.refundPayment({ idempotencyKey: k(), paymentId: t.paid, amountCents: 1n }),
    expect: notFoundPayment,
  },
  "payment.v1.PaymentService/AuthorizePayments": {
    call: (b, t, k) =>
      b.payments.authorizePayments({
        items: [{ idempotencyKey: k(), payerAccountId: t.own, payeeAccountId: t.account, amountCents: 1n, currency: "EUR" }],
      }),
    expect: itemError("ACCOUNT_NOT_FOUND"),
  },
  "payment.v1.PaymentService/CapturePayments": {
    call: (b, t, k) => b.payments.capturePayments({ items: [{ idempotencyKey: k(), paymentId: t.held }] }),
    expect: itemError("PAYMENT_NOT_FOUND"),
  },
  "payment.v1.PaymentService/RefundPayments": {
    call: (b, t, k) => b.payments.refundPayments({ items: [{ idempotencyKey: k(), paymentId: t.paid, amountCents: 1n }] }),
    expect: itemError("PAYMENT_NOT_FOUND"),
  },
  "payment.v1.PaymentService/UpdatePayment": {
    call: (b, t, k) => b.payments.updatePayment({ idempotencyKey: k(), paymentId: t.paid, metadata: { x: "y" } }),
    expect: notFoundPayment,
  },
  // Operator procedures: admin and tenants:admin reach every tenant, so only keys of the default
  // tenant may hold them (configured or made by CreateApiKey); a tenant's key is refused them.
  "payment.v1.AdminService/VerifyLedger": { call: (b) => b.admin.verifyLedger({}), expect: operatorsOnly },
  "payment.v1.AdminService/CreateTenant": { call: (b) => b.admin.createTenant({ tenantId: "a", displayName: "taken over" }), expect: operatorsOnly },
  "payment.v1.AdminService/CreateApiKey": {
    call: (b) => b.admin.createApiKey({ tenantId: "a", clientId: `x-${ulid()}`, scopes: ["read"] }),
    expect: operatorsOnly,
  },
  "payment.v1.AdminService/ListApiKeys": { call: (b) => b.admin.listApiKeys({ tenantId: "a" }), expect: operatorsOnly },
  "payment.v1.AdminService/RevokeApiKey": { call: (b) => b.admin.revokeApiKey({ keyId: ulid() }), expect: operatorsOnly },
  "payment.v1.AdminService/ListAuditEvents": { call: (b) => b.admin.listAuditEvents({ tenantId: "a", pageSize: 500 }), expect: operatorsOnly },
};

describe("tenant confinement through the API", () => {
  let running: TestService;
  let a: TenantApi;
  let b: TenantApi;
  /** An operator: a key of the default tenant with every scope. */
  let op: TenantApi;
  let targets: Targets;
  let seq = 0;
  const k = () => `k-${++seq}-${ulid()}`;

  const keyOf = (tenant: string, scopes: readonly Scope[] = TENANT_SCOPES) => {
    const key = generateApiKey();
    return { key, entry: formatEntry(`client-${tenant}-${ulid().slice(-6).toLowerCase()}`, scopes, hashApiKey(key), tenant) };
  };
  const clientsOf = (url: string, key: string): TenantApi => {
    const transport = transportFactories["connect-json-http1"]!(url, key);
    return { ...jsonClients(url, key), admin: createClient(AdminService, transport) };
  };

  before(async () => {
    const keyA = keyOf("a");
    const keyB = keyOf("b");
    const keyOp = keyOf("default", SCOPES);
    running = await startTestService({
      AUTH_DISABLED: "false",
      API_KEYS: `${keyA.entry},${keyB.entry},${keyOp.entry}`,
      TOKEN_SIGNING_KEYS: testSigningKey("tc").entry,
    });
    a = clientsOf(running.url, keyA.key);
    b = clientsOf(running.url, keyB.key);
    op = clientsOf(running.url, keyOp.key);
    // The tenants named by API_KEYS were created at start: accounts can be opened in them at once.
    const open = async (api: TenantApi, name: string, funds: bigint) => {
      const { account } = await api.accounts.createAccount({ accountId: `${name}-${ulid()}`, currency: "EUR", displayName: name });
      if (funds > 0n) await api.accounts.depositFunds({ idempotencyKey: k(), accountId: account!.accountId, amountCents: funds, currency: "EUR" });
      return account!.accountId;
    };
    const account = await open(a, "a-payer", 10_000n);
    const other = await open(a, "a-payee", 0n);
    const own = await open(b, "b-payer", 1_000n);
    const ownPayee = await open(b, "b-payee", 0n);
    const held = (await a.payments.authorizePayment({
      idempotencyKey: k(), payerAccountId: account, payeeAccountId: other, amountCents: 300n, currency: "EUR", captureMethod: CaptureMethod.MANUAL,
    })).payment!.paymentId;
    const paid = (await a.payments.authorizePayment({ idempotencyKey: k(), payerAccountId: account, payeeAccountId: other, amountCents: 200n, currency: "EUR" }))
      .payment!.paymentId;
    const ownPayment = (await b.payments.authorizePayment({ idempotencyKey: k(), payerAccountId: own, payeeAccountId: ownPayee, amountCents: 10n, currency: "EUR" }))
      .payment!.paymentId;
    targets = { account, other, held, paid, own, ownPayment };
  });
  after(() => running?.stop());

  const db = () => running.service.database.db;
  /** Everything a write changes: counts of every written table, and every balance row. */
  async function state() {
    const [counts] = await rows(db(), sql`select (select count(*) from payments)::int as payments, (select count(*) from ledger_entries)::int as entries,
      (select count(*) from hold_movements)::int as holds, (select count(*) from outbox)::int as outbox, (select count(*) from idempotency_keys)::int as keys,
      (select count(*) from audit_events)::int as audit, (select count(*) from accounts)::int as accounts, (select count(*) from tenants)::int as tenants,
      (select jsonb_object_agg(id, metadata) from payments) as payment_metadata`);
    const balances = await rows(db(), sql`select account_id, available_cents::text, held_cents::text, overdraft_limit_cents::text, version::text,
      closed_at from balances order by account_id`);
    return { counts, balances };
  }

  it("has a row for every procedure of every service", () => {
    assert.deepEqual(API_PROCEDURES.filter((procedure) => !(procedure in TABLE)), [], "procedures without a row");
    assert.deepEqual(Object.keys(TABLE).filter((procedure) => !API_PROCEDURES.includes(procedure)), [], "rows of no procedure");
  });

  it("answers every procedure called with b's key on a's objects as documented, and changes nothing", async () => {
    const before = await state();
    for (const procedure of API_PROCEDURES) {
      const row = TABLE[procedure]!;
      const expect = row.expect;
      if ("check" in expect) {
        expect.check(await row.call(b, targets, k));
        continue;
      }
      try {
        await row.call(b, targets, k);
        assert.fail(`${procedure}: expected ${Code[expect.code]}`);
      } catch (error) {
        assert.ok(error instanceof ConnectError, `${procedure}: ${String(error)}`);
        assert.equal(error.code, expect.code, `${procedure}: ${error.message}`);
        if (expect.detail) assert.equal(error.findDetails(ErrorDetailSchema)[0]?.code, expect.detail, `${procedure}: ${error.message}`);
      }
    }
    assert.deepEqual(await state(), before, "nothing changed");
    await assertLedgerInvariants(db());
    assert.equal((await op.admin.verifyLedger({})).ok, true);
  });

  it("answers a's objects to b exactly as missing ones (same code, field and message)", async () => {
    const ghostAccount = `ghost-${ulid()}`;
    const ghostPayment = ulid();
    const messageOf = async (call: Promise<unknown>) => {
      const error = await call.then(() => assert.fail("expected an error"), (e: unknown) => e as ConnectError);
      const detail = error.findDetails(ErrorDetailSchema)[0];
      return { code: error.code, detail: detail?.code, field: detail?.field, message: error.rawMessage };
    };
    const same = async (make: (id: string) => Promise<unknown>, real: string, ghost: string) =>
      assert.deepEqual(await messageOf(make(real)), { ...(await messageOf(make(ghost))), message: (await messageOf(make(ghost))).message.replace(ghost, real) });
    await same((id) => b.accounts.getAccount({ accountId: id }), targets.account, ghostAccount);
    await same((id) => b.payments.getPayment({ paymentId: id }), targets.paid, ghostPayment);
    await same((id) => b.accounts.depositFunds({ idempotencyKey: k(), accountId: id, amountCents: 1n, currency: "EUR" }), targets.account, ghostAccount);
    await same((id) => b.payments.capturePayment({ idempotencyKey: k(), paymentId: id }), targets.held, ghostPayment);
    await same(
      (id) => b.payments.authorizePayment({ idempotencyKey: k(), payerAccountId: targets.own, payeeAccountId: id, amountCents: 1n, currency: "EUR" }),
      targets.account,
      ghostAccount,
    );
    await same(
      (id) => b.payments.getAccountBalance({ accountId: id, asOf: timestampFromDate(new Date()) }),
      targets.account,
      ghostAccount,
    );
  });

  it("keeps page tokens to the scope they were issued to", async () => {
    const page = await a.accounts.listAccounts({ pageSize: 1 });
    assert.ok(page.nextPageToken, "a has two accounts: a second page");
    await rejectsWith(b.accounts.listAccounts({ pageSize: 1, pageToken: page.nextPageToken }), Code.InvalidArgument, "INVALID_ARGUMENT", "page_token");
    assert.equal((await a.accounts.getAccount({ accountId: targets.account })).account!.tenantId, "a");
  });

  it("keeps resume tokens of a's streams from opening them for b", async () => {
    const abort = new AbortController();
    const { resumeToken } = await first(a.accounts.watchAccount({ accountId: targets.account }, { signal: abort.signal }), abort);
    assert.ok(resumeToken, "a's account has statement lines: a token");
    const resumeAs = (api: TenantApi, accountId: string) => {
      const stop = new AbortController();
      return first(api.accounts.watchAccount({ accountId, resumeToken }, { signal: stop.signal }), stop);
    };
    await rejectsWith(resumeAs(b, targets.account), Code.NotFound, "ACCOUNT_NOT_FOUND", "account_id");
    await rejectsWith(resumeAs(b, targets.own), Code.InvalidArgument, "INVALID_ARGUMENT", "resume_token");
    assert.equal((await resumeAs(a, targets.account)).resumeToken, resumeToken, "a resumes where it was");
  });

  it("CreateTenant: creates, answers the same again, refuses another display name and bad input", async () => {
    const made = (await op.admin.createTenant({ tenantId: "c-tenant", displayName: "C" })).tenant!;
    assert.equal(made.tenantId, "c-tenant");
    assert.deepEqual((await op.admin.createTenant({ tenantId: "c-tenant", displayName: "C" })).tenant, made);
    await rejectsWith(op.admin.createTenant({ tenantId: "c-tenant", displayName: "D" }), Code.AlreadyExists, "TENANT_ALREADY_EXISTS", "tenant_id");
    await rejectsWith(op.admin.createTenant({ tenantId: "Upper", displayName: "C" }), Code.InvalidArgument, "INVALID_ARGUMENT", "tenant_id");
    await rejectsWith(op.admin.createTenant({ tenantId: "x".repeat(65), displayName: "C" }), Code.InvalidArgument, "INVALID_ARGUMENT", "tenant_id");
    await rejectsWith(op.admin.createTenant({ tenantId: "d-tenant", displayName: "" }), Code.InvalidArgument, "INVALID_ARGUMENT", "display_name");
    await rejectsWith(op.admin.createTenant({ tenantId: "d-tenant", displayName: "y".repeat(201) }), Code.InvalidArgument, "INVALID_ARGUMENT", "display_name");
    const [missing] = await rows(db(), sql`select count(*)::int as n from tenants where id = 'd-tenant'`);
    assert.equal(missing!.n, 0, "refused input created nothing");
  });

  it("ListAuditEvents: who did what, newest first, by tenant and account, in pages", async () => {
    const all = (await op.admin.listAuditEvents({ tenantId: "a", pageSize: 500 })).events;
    assert.ok(all.length > 0 && all.every((e) => e.tenantId === "a"), "a's events only");
    const ids = all.map((e) => BigInt(e.auditId));
    assert.deepEqual(ids, [...ids].sort((x, y) => (x > y ? -1 : x < y ? 1 : 0)), "newest first");
    const paidEvent = all.find((e) => e.subjectId === targets.paid)!;
    assert.equal(paidEvent.action, "authorize");
    assert.match(paidEvent.clientId, /^client-a-/);
    assert.deepEqual(paidEvent.accountIds, [targets.account, targets.other]);
    assert.ok(paidEvent.at);

    const ofAccount = (await op.admin.listAuditEvents({ accountId: targets.other, pageSize: 500 })).events;
    assert.deepEqual(ofAccount.map((e) => e.action).sort(), ["authorize", "authorize", "open"]);
    // Keyset pages of 2 give the same events in the same order.
    const paged = [];
    let token = "";
    do {
      const page = await op.admin.listAuditEvents({ tenantId: "a", pageSize: 2, pageToken: token });
      paged.push(...page.events);
      token = page.nextPageToken;
    } while (token);
    assert.deepEqual(paged.map((e) => e.auditId), all.map((e) => e.auditId));
    await rejectsWith(op.admin.listAuditEvents({ pageSize: 501 }), Code.InvalidArgument, "INVALID_ARGUMENT", "page_size");
  });
});
