/**
 * int64 overflow: no debit or credit can take a balance (customer or funding account) beyond int64;
 * it is declined or refused with BALANCE_LIMIT_EXCEEDED and the currency stays usable.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Ledger } from "../../src/ledger/ledger.js";
import { LedgerError } from "../../src/ledger/ledger-error.js";
import { MAX_AMOUNT_CENTS } from "../../src/ledger/validation.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { assertLedgerInvariants } from "../support/invariants.js";

const ctx = { clientId: "overflow" };
const INT64_MAX = 2n ** 63n - 1n;
let database: TestDatabase;
let ledger: Ledger;
let seq = 0;
const key = () => `k-${++seq}`;

before(async () => {
  database = await createTestDatabase();
  ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
});
after(() => database.drop());

async function refused(call: Promise<unknown>, code: string): Promise<string> {
  const error = await call.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof LedgerError, `expected ${code}, got ${String(error)}`);
  assert.equal(error.code, code);
  return error.message;
}

it("1,024 maximal deposits fill one currency to the int64 edge; the next is refused and the currency keeps working", async () => {
  const currency = "CHF";
  const whale = (await ledger.createAccount({ currency, displayName: "whale", accountId: "" }, ctx)).accountId;
  const small = (await ledger.createAccount({ currency, displayName: "small", accountId: "", overdraftLimitCents: MAX_AMOUNT_CENTS }, ctx)).accountId;
  // 1,024 x (2^53 - 1) = 2^63 - 1,024: fits int64 exactly, in one account and in the funding account.
  const deposits = Array.from({ length: 1024 }, () =>
    ledger.depositFunds({ idempotencyKey: key(), accountId: whale, amountCents: MAX_AMOUNT_CENTS, currency }, ctx),
  );
  await Promise.all(deposits);
  const full = await ledger.getBalance(whale);
  assert.equal(full.ledgerCents, 1024n * MAX_AMOUNT_CENTS);
  assert.equal((await ledger.getBalance(`funding.${currency}`)).availableCents, -1024n * MAX_AMOUNT_CENTS);

  const message = await refused(
    ledger.depositFunds({ idempotencyKey: key(), accountId: whale, amountCents: MAX_AMOUNT_CENTS, currency }, ctx),
    "BALANCE_LIMIT_EXCEEDED",
  );
  assert.match(message, /beyond the int64 range/);
  // The funding account is the limit too: the currency's total cannot pass int64 in any account.
  await refused(ledger.depositFunds({ idempotencyKey: key(), accountId: small, amountCents: MAX_AMOUNT_CENTS, currency }, ctx), "BALANCE_LIMIT_EXCEEDED");

  // A customer balance cannot overflow by receiving payments (the payer uses its overdraft).
  const declined = await ledger.authorizePayment(
    { idempotencyKey: key(), payerAccountId: small, payeeAccountId: whale, amountCents: MAX_AMOUNT_CENTS, currency, description: "" },
    ctx,
  );
  assert.equal(declined.status, "DECLINED");
  assert.equal(declined.declineReason, "BALANCE_LIMIT_EXCEEDED");
  const tooBigHold = await ledger.authorizePayment(
    { idempotencyKey: key(), payerAccountId: small, payeeAccountId: whale, amountCents: 2_000n, currency, description: "", captureMethod: "MANUAL" },
    ctx,
  );
  assert.equal(tooBigHold.declineReason, "BALANCE_LIMIT_EXCEEDED", "a hold that could never be captured is declined at once");
  const hold = await ledger.authorizePayment(
    { idempotencyKey: key(), payerAccountId: small, payeeAccountId: whale, amountCents: 1_000n, currency, description: "", captureMethod: "MANUAL" },
    ctx,
  );
  assert.equal(hold.status, "REQUIRES_CAPTURE");
  const meanwhile = await ledger.authorizePayment(
    { idempotencyKey: key(), payerAccountId: small, payeeAccountId: whale, amountCents: 1_000n, currency, description: "" },
    ctx,
  );
  assert.equal(meanwhile.status, "AUTHORIZED", "the payee is now 24 below int64's maximum");
  await refused(ledger.capturePayment({ idempotencyKey: key(), paymentId: hold.paymentId, amountCents: 0n }, ctx), "BALANCE_LIMIT_EXCEEDED");
  await ledger.voidPayment({ idempotencyKey: key(), paymentId: hold.paymentId }, ctx);

  // Still usable: payments, payouts, and after a payout deposits again.
  const paid = await ledger.authorizePayment(
    { idempotencyKey: key(), payerAccountId: whale, payeeAccountId: small, amountCents: 5n, currency, description: "" },
    ctx,
  );
  assert.equal(paid.status, "AUTHORIZED");
  const payout = await ledger.withdrawFunds({ idempotencyKey: key(), accountId: whale, amountCents: MAX_AMOUNT_CENTS, currency, reference: "" }, ctx);
  assert.equal(payout.status, "WITHDRAWN");
  await ledger.depositFunds({ idempotencyKey: key(), accountId: small, amountCents: 1_000n, currency }, ctx);
  assert.ok((await ledger.getBalance(whale)).ledgerCents <= INT64_MAX);
  await assertLedgerInvariants(database.handle.db);
});
