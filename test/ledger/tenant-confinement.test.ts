/**
 * Tenant confinement where the money rules run (src/ledger/sql/28-ledger-confinement.sql): an item
 * of ledger_apply touching another tenant's account (named, or a party of the payment it acts on)
 * gets exactly the refusal a missing account or payment gets, on the per-item loop and on the set
 * path, in batches mixing two tenants; refused items write nothing (no row, no key, no event, no
 * audit row) and the others go on as usual. Account tokens (`accountIds`) are limited to their
 * accounts. Audit rows (32-ledger-audit.sql) name who did what, one per applied item.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import postgres from "postgres";
import { ulid } from "../../src/ids/ulid.js";
import { Ledger } from "../../src/ledger/ledger.js";
import type { RequestContext } from "../../src/ledger/records.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { assertLedgerInvariants } from "../support/invariants.js";

let database: TestDatabase;
let sql: postgres.Sql;
let ledger: Ledger;

const caller = (tenantId: string, extra: Partial<NonNullable<RequestContext["caller"]>> = {}): RequestContext => ({
  clientId: `client-${tenantId}`,
  caller: { tenantId, keyId: `key-${tenantId}`, tokenId: null, accountIds: null, ...extra },
});
const A = caller("a");
const B = caller("b");

before(async () => {
  database = await createTestDatabase(5);
  sql = postgres(database.url, { max: 1, onnotice: () => {} });
  await sql`insert into tenants (id, display_name) values ('a', 'Tenant A'), ('b', 'Tenant B')`;
  ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
});
after(async () => {
  await sql.end();
  await database.drop();
});

/** A funded EUR payer and an EUR payee of `context`'s tenant. */
async function accountsOf(context: RequestContext, funds = 10_000n) {
  const open = async (name: string) =>
    (await ledger.createAccount({ accountId: `${context.caller!.tenantId}-${name}-${ulid()}`, currency: "EUR", displayName: name }, context)).accountId;
  const ids = { payer: await open("payer"), payee: await open("payee") };
  await ledger.depositFunds({ idempotencyKey: `seed-${ulid()}`, accountId: ids.payer, amountCents: funds, currency: "EUR" }, context);
  return ids;
}

/** An authorize item as src/ledger/commands.ts builds it, sent by `context`. */
function authorize(context: RequestContext, payer: string, payee: string, amount: number, extra: Record<string, unknown> = {}) {
  const c = context.caller!;
  return {
    kind: "authorize", clientId: context.clientId, key: `k-${ulid()}`, method: "AuthorizePayment", requestHash: `h-${ulid()}`,
    paymentId: ulid(), payerAccountId: payer, payeeAccountId: payee, amountCents: String(amount), currency: "EUR",
    description: "", captureMethod: "AUTOMATIC", holdExpiresAt: null, at: new Date().toISOString(), eventId: ulid(), traceparent: null,
    tenantId: c.tenantId, keyId: c.keyId, tokenId: c.tokenId, ...(c.accountIds && { accountIds: c.accountIds }), ...extra,
  };
}

/** A keyed item of another kind (fields as its command sends them). */
function keyed(context: RequestContext, kind: string, fields: Record<string, unknown>) {
  const c = context.caller!;
  return {
    kind, clientId: context.clientId, key: `k-${ulid()}`, method: kind, requestHash: `h-${ulid()}`, at: new Date().toISOString(),
    eventId: ulid(), traceparent: null, tenantId: c.tenantId, keyId: c.keyId, tokenId: c.tokenId,
    ...(c.accountIds && { accountIds: c.accountIds }), ...fields,
  };
}

type Outcome = { error?: { code: string; field: string; message: string }; replayed?: boolean; result?: { status?: string; paymentId?: string } };

async function apply(items: object[], perItem: boolean): Promise<{ outcomes: Outcome[]; setPath: boolean }> {
  return sql.begin(async (tx) => {
    await tx`select set_config('ledger.per_item_path', ${perItem ? "on" : "off"}, true), set_config('track_functions', 'pl', true)`;
    const calls = async () =>
      (await tx<{ n: number }[]>`select coalesce(sum(calls), 0)::int as n from pg_stat_xact_user_functions where funcname = 'ledger_apply_authorizations'`)[0]!.n;
    const before = await calls();
    const [row] = await tx<{ outcomes: Outcome[] }[]>`select ledger_apply(${JSON.stringify(items)}::text::jsonb, 24) as outcomes`;
    return { outcomes: row!.outcomes, setPath: (await calls()) > before };
  }) as Promise<{ outcomes: Outcome[]; setPath: boolean }>;
}

/** What nothing refused may change: every table a command writes, counted. */
async function written(): Promise<Record<"payments" | "keys" | "audit", number> & Record<string, number>> {
  const [row] = await sql`select (select count(*) from payments)::int as payments, (select count(*) from ledger_entries)::int as entries,
    (select count(*) from outbox)::int as outbox, (select count(*) from idempotency_keys)::int as keys,
    (select count(*) from audit_events)::int as audit, (select count(*) from deposits)::int as deposits,
    (select count(*) from refunds)::int as refunds, (select count(*) from withdrawals)::int as withdrawals,
    (select coalesce(sum(version), 0)::int from balances) as versions`;
  return row as Record<"payments" | "keys" | "audit", number>;
}

const missingAccount = (field: string, id: string) => ({ code: "ACCOUNT_NOT_FOUND", field, message: `${field}: account ${id} does not exist` });
const missingPayment = (id: string) => ({ code: "PAYMENT_NOT_FOUND", field: "payment_id", message: `payment_id: payment ${id} does not exist` });

for (const perItem of [true, false]) {
  describe(perItem ? "per-item path" : "set path", () => {
    it("refuses authorizations touching the other tenant's accounts as missing, in a mixed batch, and applies the rest", async () => {
      const a = await accountsOf(A);
      const b = await accountsOf(B);
      const items = [
        authorize(A, a.payer, a.payee, 10), // 0 fine
        authorize(B, a.payer, b.payee, 10), // 1 b spends a's money: payer not found
        authorize(B, b.payer, a.payee, 10), // 2 a payment between two tenants: payee not found
        authorize(B, b.payer, b.payee, 10), // 3 fine
        authorize(A, a.payer, b.payee, 10), // 4 a to b: payee not found
        ...Array.from({ length: 9 }, (_, n) => authorize(n % 2 ? A : B, n % 2 ? a.payer : b.payer, n % 2 ? a.payee : b.payee, 1)),
      ];
      const before = await written();
      const { outcomes, setPath } = await apply(items, perItem);
      assert.equal(setPath, !perItem, "the items that went on took the path asked for");
      assert.deepEqual(outcomes[1]!.error, missingAccount("payer_account_id", a.payer));
      assert.deepEqual(outcomes[2]!.error, missingAccount("payee_account_id", a.payee));
      assert.deepEqual(outcomes[4]!.error, missingAccount("payee_account_id", b.payee));
      const applied = outcomes.filter((_, i) => ![1, 2, 4].includes(i));
      assert.ok(applied.every((o) => o.result?.status === "AUTHORIZED"), JSON.stringify(outcomes));
      // Exactly what a missing account gets:
      const ghost = `ghost-${ulid()}`;
      const { outcomes: [missing] } = await apply([authorize(B, ghost, b.payee, 10)], perItem);
      assert.deepEqual(missing!.error, missingAccount("payer_account_id", ghost));

      const after = await written();
      assert.equal(after.payments - before.payments, 11 + 0, "the refused payments were not written (the ghost was refused too)");
      assert.equal(after.keys - before.keys, 11, "refused items keep no idempotency key");
      assert.equal(after.audit - before.audit, 11, "one audit row per applied item");
      const refusedIds = [1, 2, 4].map((i) => items[i]!.paymentId);
      assert.equal((await sql`select count(*)::int as n from payments where id in ${sql(refusedIds)}`)[0]!.n, 0);
      const refusedKeys = [1, 2, 4].map((i) => items[i]!.key);
      assert.equal((await sql`select count(*)::int as n from idempotency_keys where key in ${sql(refusedKeys)}`)[0]!.n, 0);
      await assertLedgerInvariants(database.handle.db);
    });
  });
}

it("refuses every kind of item on another tenant's account or payment exactly as a missing one, and writes nothing", async () => {
  const a = await accountsOf(A);
  const held = await ledger.authorizePayment(
    { idempotencyKey: `hold-${ulid()}`, payerAccountId: a.payer, payeeAccountId: a.payee, amountCents: 100n, currency: "EUR", description: "", captureMethod: "MANUAL" },
    A,
  );
  const paid = await ledger.authorizePayment(
    { idempotencyKey: `pay-${ulid()}`, payerAccountId: a.payer, payeeAccountId: a.payee, amountCents: 100n, currency: "EUR", description: "" },
    A,
  );
  const items = [
    keyed(B, "deposit", { depositId: ulid(), accountId: a.payer, amountCents: "5", currency: "EUR", fundingAccountId: "funding.EUR" }),
    keyed(B, "withdraw", { withdrawalId: ulid(), accountId: a.payer, amountCents: "5", currency: "EUR", reference: "", fundingAccountId: "funding.EUR" }),
    keyed(B, "update_account", { accountId: a.payer, overdraftLimitCents: "1000", metadata: null }),
    keyed(B, "close", { accountId: a.payee }),
    { kind: "limit", accountId: a.payer, overdraftLimitCents: "1000", at: new Date().toISOString(), eventId: ulid(), traceparent: null, tenantId: "b" },
    keyed(B, "capture", { paymentId: held.paymentId, amountCents: "0" }),
    keyed(B, "void", { paymentId: held.paymentId }),
    keyed(B, "refund", { refundId: ulid(), paymentId: paid.paymentId, amountCents: "1", reason: "" }),
    keyed(B, "update_payment", { paymentId: paid.paymentId, metadata: { x: "y" } }),
    { kind: "open", accountId: a.payer, currency: "EUR", displayName: "payer", funding: "false", at: new Date().toISOString(), eventId: ulid(), traceparent: null, tenantId: "b" },
  ];
  const before = await written();
  const { outcomes } = await apply(items, true);
  assert.deepEqual(outcomes.map((o) => o.error), [
    missingAccount("account_id", a.payer),
    missingAccount("account_id", a.payer),
    missingAccount("account_id", a.payer),
    missingAccount("account_id", a.payee),
    missingAccount("account_id", a.payer),
    missingPayment(held.paymentId),
    missingPayment(held.paymentId),
    missingPayment(paid.paymentId),
    missingPayment(paid.paymentId),
    { code: "ACCOUNT_ALREADY_EXISTS", field: "account_id", message: `account_id: account ${a.payer} already exists with a different currency, display name or metadata` },
  ]);
  // The same refusals as for ids that do not exist.
  const ghost = ulid();
  const { outcomes: ghosts } = await apply([keyed(B, "capture", { paymentId: ghost, amountCents: "0" }), keyed(B, "close", { accountId: `x-${ghost}` })], true);
  assert.deepEqual(ghosts.map((o) => o.error), [missingPayment(ghost), missingAccount("account_id", `x-${ghost}`)]);
  assert.deepEqual(await written(), before, "nothing was written");
  // The owner still can: the payment and accounts are untouched.
  const captured = await ledger.capturePayment({ idempotencyKey: `cap-${ulid()}`, paymentId: held.paymentId, amountCents: 0n }, A);
  assert.equal(captured.status, "CAPTURED");
  await assertLedgerInvariants(database.handle.db);
});

it("limits an account token to its listed accounts (the payer of an authorization or capture, a payee of a void or refund)", async () => {
  const a = await accountsOf(A);
  const other = await accountsOf(A);
  const token = caller("a", { tokenId: "tok-1", accountIds: [a.payer] });
  const payeeToken = caller("a", { tokenId: "tok-2", accountIds: [a.payee] });
  const paid = await ledger.authorizePayment(
    { idempotencyKey: `pay-${ulid()}`, payerAccountId: a.payer, payeeAccountId: a.payee, amountCents: 100n, currency: "EUR", description: "" },
    A,
  );
  const { outcomes } = await apply([
    authorize(token, a.payer, other.payee, 5), // listed payer, any payee of the tenant: fine
    authorize(token, other.payer, a.payer, 5), // payer not listed
    keyed(token, "deposit", { depositId: ulid(), accountId: other.payer, amountCents: "5", currency: "EUR", fundingAccountId: "funding.EUR" }),
    keyed(payeeToken, "refund", { refundId: ulid(), paymentId: paid.paymentId, amountCents: "1", reason: "" }), // the payee's token: fine
    keyed(caller("a", { tokenId: "tok-3", accountIds: [other.payer] }), "update_payment", { paymentId: paid.paymentId, metadata: {} }),
    keyed(token, "refund", { refundId: ulid(), paymentId: paid.paymentId, amountCents: "1", reason: "" }), // the payer's token: money leaves the payee
  ], true);
  assert.equal(outcomes[0]!.result?.status, "AUTHORIZED");
  assert.deepEqual(outcomes[1]!.error, missingAccount("payer_account_id", other.payer));
  assert.deepEqual(outcomes[2]!.error, missingAccount("account_id", other.payer));
  assert.ok(outcomes[3]!.result, JSON.stringify(outcomes[3]));
  assert.deepEqual(outcomes[4]!.error, missingPayment(paid.paymentId));
  assert.deepEqual(outcomes[5]!.error, missingPayment(paid.paymentId), "a payer's token cannot take money back from the payee");
  await assertLedgerInvariants(database.handle.db);
});

it("audits who did what: tenant, client, key, token, action, subject and accounts; replays record nothing", async () => {
  const a = await accountsOf(A);
  const token = caller("a", { tokenId: "tok-audit", accountIds: [a.payer] });
  const item = authorize(token, a.payer, a.payee, 7);
  await apply([item], true);
  const [replay] = (await apply([item], true)).outcomes;
  assert.equal(replay!.replayed, true);
  const rows = await sql`select tenant_id, client_id, key_id, token_id, action, subject_id, account_ids from audit_events where subject_id = ${item.paymentId}`;
  assert.deepEqual(rows.map((r) => ({ ...r })), [{
    tenant_id: "a", client_id: "client-a", key_id: "key-a", token_id: "tok-audit", action: "authorize", subject_id: item.paymentId,
    account_ids: [a.payer, a.payee],
  }]);
  const [opened] = await sql`select tenant_id, action from audit_events where subject_id = ${a.payer} and action = 'open'`;
  assert.deepEqual({ ...opened }, { tenant_id: "a", action: "open" });
  const [account] = await sql`select tenant_id from balances where account_id = ${a.payer}`;
  assert.equal(account!.tenant_id, "a", "the balance row carries the account's tenant");
});

it("audits a batch on the general set path too (deposits and payouts of 8 items or more)", async () => {
  const a = await accountsOf(A);
  const subjects = Array.from({ length: 9 }, () => ulid());
  const deposits = subjects.slice(0, 6).map((depositId) =>
    keyed(A, "deposit", { depositId, accountId: a.payee, amountCents: "5", currency: "EUR", fundingAccountId: "funding.EUR" }),
  );
  const payouts = subjects.slice(6).map((withdrawalId) =>
    keyed(A, "withdraw", { withdrawalId, accountId: a.payer, amountCents: "5", currency: "EUR", reference: "", fundingAccountId: "funding.EUR" }),
  );
  const before = await written();
  const { outcomes } = await apply([...deposits, ...payouts], false);
  assert.ok(outcomes.every((o) => !o.error), "every item applied");
  const rows = await sql`select action, tenant_id from audit_events where subject_id = any(${subjects})`;
  assert.equal(rows.length, 9, "one audit row per applied item");
  assert.ok(rows.every((r) => r.tenant_id === "a"));
  assert.equal((await written()).audit - before.audit, 9);
});
