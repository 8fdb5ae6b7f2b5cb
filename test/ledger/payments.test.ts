import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import { Ledger } from "../../src/ledger/ledger.js";
import { LedgerError } from "../../src/ledger/ledger-error.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { assertLedgerInvariants, countRows, rows } from "../support/invariants.js";

const ctx = { clientId: "test-client" };
let database: TestDatabase;
let ledger: Ledger;
let keySeq = 0;
const key = () => `key-${++keySeq}`;

async function fundedAccount(cents: bigint, currency = "USD") {
  const account = await ledger.createAccount({ currency, displayName: "acct", accountId: "" }, ctx);
  if (cents > 0n) await ledger.depositFunds({ idempotencyKey: key(), accountId: account.accountId, amountCents: cents, currency }, ctx);
  return account.accountId;
}

async function snapshot() {
  const tables = ["payments", "ledger_entries", "outbox", "idempotency_keys", "deposits"];
  return Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await countRows(ledger.db, t)])));
}

before(async () => {
  database = await createTestDatabase();
  ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
});
after(() => database.drop());

describe("AuthorizePayment", () => {
  it("moves money with two entries, an outbox event and a new balance version", async () => {
    const payer = await fundedAccount(10_000n);
    const payee = await fundedAccount(0n);
    const payment = await ledger.authorizePayment(
      { idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents: 2_500n, currency: "USD", description: "coffee" },
      ctx,
    );
    assert.equal(payment.status, "AUTHORIZED");
    assert.equal(payment.declineReason, null);
    assert.equal((await ledger.getBalance(payer)).availableCents, 7_500n);
    const payeeBalance = await ledger.getBalance(payee);
    assert.equal(payeeBalance.availableCents, 2_500n);
    assert.equal(payeeBalance.entrySequence, 1n);
    assert.equal(payeeBalance.revision, 1n);
    assert.deepEqual(await ledger.getPayment(payment.paymentId), payment);

    const [event] = await rows(ledger.db, sql`select event_type, envelope from outbox where aggregate_id = ${payment.paymentId}`);
    assert.equal(event?.event_type, "PaymentAuthorized");
    assert.equal((event?.envelope as { payload: { amountCents: string } }).payload.amountCents, "2500");
    await assertLedgerInvariants(ledger.db);
  });

  it("declines insufficient funds: recorded with its reason and event, balances untouched", async () => {
    const payer = await fundedAccount(100n);
    const payee = await fundedAccount(0n);
    const payment = await ledger.authorizePayment(
      { idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents: 101n, currency: "USD", description: "" },
      ctx,
    );
    assert.equal(payment.status, "DECLINED");
    assert.equal(payment.declineReason, "INSUFFICIENT_FUNDS");
    assert.equal((await ledger.getBalance(payer)).availableCents, 100n);
    assert.equal((await ledger.getBalance(payee)).revision, 0n);
    const events = await rows(ledger.db, sql`select event_type from outbox where aggregate_id = ${payment.paymentId}`);
    assert.deepEqual(events, [{ event_type: "PaymentDeclined" }]);
  });

  it("declines a currency mismatch between the payment and either account", async () => {
    const usd = await fundedAccount(1_000n, "USD");
    const eur = await fundedAccount(1_000n, "EUR");
    for (const [payer, payee, currency] of [[usd, eur, "USD"], [usd, await fundedAccount(0n)!, "EUR"]] as const) {
      const payment = await ledger.authorizePayment(
        { idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents: 10n, currency, description: "" },
        ctx,
      );
      assert.equal(payment.declineReason, "CURRENCY_MISMATCH");
    }
    assert.equal((await ledger.getBalance(usd)).availableCents, 1_000n);
  });

  it("rejects malformed requests naming the field, and writes nothing", async () => {
    const payer = await fundedAccount(1_000n);
    const payee = await fundedAccount(0n);
    const valid = { idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents: 10n, currency: "USD", description: "" };
    const cases: [Partial<typeof valid>, string][] = [
      [{ idempotencyKey: "" }, "idempotency_key"],
      [{ idempotencyKey: "k".repeat(256) }, "idempotency_key"],
      [{ amountCents: 0n }, "amount_cents"],
      [{ amountCents: -5n }, "amount_cents"],
      [{ amountCents: 9_007_199_254_740_992n }, "amount_cents"],
      [{ currency: "usd" }, "currency"],
      [{ currency: "XYZ" }, "currency"],
      [{ payeeAccountId: payer }, "payee_account_id"],
      [{ payerAccountId: "" }, "payer_account_id"],
      [{ payerAccountId: "funding.USD" }, "payer_account_id"],
      [{ description: "d".repeat(501) }, "description"],
    ];
    const before = await snapshot();
    for (const [change, field] of cases) {
      await assert.rejects(ledger.authorizePayment({ ...valid, ...change }, ctx), (error: unknown) => {
        assert.ok(error instanceof LedgerError, String(error));
        assert.equal(error.code, "INVALID_ARGUMENT");
        assert.equal(error.field, field);
        assert.match(error.message, new RegExp(`^${field}: `));
        return true;
      });
    }
    assert.deepEqual(await snapshot(), before);
  });

  it("returns ACCOUNT_NOT_FOUND for an unknown payer or payee and writes nothing", async () => {
    const known = await fundedAccount(1_000n);
    const before = await snapshot();
    for (const [payer, payee, field] of [["nobody", known, "payer_account_id"], [known, "nobody", "payee_account_id"]]) {
      await assert.rejects(
        ledger.authorizePayment(
          { idempotencyKey: key(), payerAccountId: payer!, payeeAccountId: payee!, amountCents: 1n, currency: "USD", description: "" },
          ctx,
        ),
        { code: "ACCOUNT_NOT_FOUND", field },
      );
    }
    assert.deepEqual(await snapshot(), before);
  });

  it("keeps ledger history append-only", async () => {
    const appendOnly = (error: unknown) => /append-only/.test(String((error as Error).cause));
    await assert.rejects(ledger.db.execute(sql`update ledger_entries set amount_cents = 1`), appendOnly);
    await assert.rejects(ledger.db.execute(sql`delete from payments`), appendOnly);
  });
});

describe("DepositFunds and accounts", () => {
  it("credits from the funding account so every currency sums to zero", async () => {
    const account = await fundedAccount(0n, "JPY");
    const deposit = await ledger.depositFunds({ idempotencyKey: key(), accountId: account, amountCents: 5_000n, currency: "JPY" }, ctx);
    assert.equal(deposit.balanceAfterCents, 5_000n);
    assert.equal((await ledger.getBalance("funding.JPY")).availableCents, -5_000n);
    await assertLedgerInvariants(ledger.db);
  });

  it("refuses a deposit in another currency than the account's", async () => {
    const account = await fundedAccount(0n, "USD");
    await assert.rejects(
      ledger.depositFunds({ idempotencyKey: key(), accountId: account, amountCents: 1n, currency: "EUR" }, ctx),
      { code: "CURRENCY_MISMATCH", field: "currency" },
    );
  });

  it("treats a repeated caller-chosen account id as a retry, and a conflicting one as taken", async () => {
    const first = await ledger.createAccount({ accountId: "merchant-1", currency: "USD", displayName: "Shop" }, ctx);
    const again = await ledger.createAccount({ accountId: "merchant-1", currency: "USD", displayName: "Shop" }, ctx);
    assert.deepEqual(again, first);
    await assert.rejects(
      ledger.createAccount({ accountId: "merchant-1", currency: "EUR", displayName: "Shop" }, ctx),
      { code: "ACCOUNT_ALREADY_EXISTS", field: "account_id" },
    );
    const created = await rows(ledger.db, sql`select count(*)::int as n from outbox where aggregate_id = 'merchant-1'`);
    assert.deepEqual(created, [{ n: 1 }]);
  });
});
