/**
 * The declared boundary (src/ledger/ledger-core.ts) against what ledger_apply really answers: every
 * command kind through a real Ledger on real PostgreSQL (new, replayed, refused, declined; the
 * per-item loop and the set path), and every outcome SQL returned must have the declared shape, its
 * result the record declared for its kind, its refusal a catalogued code. Items TypeScript builds
 * are checked on the way in by the batcher itself.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Type } from "typebox";
import { Value } from "typebox/value";
import { ulid } from "../../src/ids/ulid.js";
import { CommandOutcome, ResultOf } from "../../src/ledger/ledger-core.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { spyOnLedgerApply } from "../support/ledger-apply-spy.js";

const ctx = { clientId: "core" };
let database: TestDatabase;
let ledger: Ledger;
/** Every outcome ledger_apply returned, in order. */
const outcomes: unknown[] = [];

before(async () => {
  database = await createTestDatabase(4);
  // Reads each ledger_apply answer on its way back to the batcher.
  const db = spyOnLedgerApply(database.handle.db, { onRows: (rows) => {
    if (Array.isArray(rows[0]?.outcomes)) outcomes.push(...rows[0].outcomes);
  } });
  ledger = new Ledger(db, { idempotencyTtlHours: 24 });
});
after(() => database.drop());

const settle = (promise: Promise<unknown>) => promise.then(() => "done", (error: { code?: string }) => error.code ?? "thrown");

it("answers every command kind in the declared shapes", async () => {
  const open = (accountId: string, displayName: string) => ledger.createAccount({ accountId, currency: "USD", displayName }, ctx);
  await open("core-a", "A");
  await open("core-b", "B");
  assert.equal(await settle(open("core-a", "A")), "done", "an existing account with the same attributes");
  assert.equal(await settle(open("core-a", "other")), "ACCOUNT_ALREADY_EXISTS");
  await ledger.updateAccount({ accountId: "core-b", overdraftLimitCents: 100n });
  assert.equal(await settle(ledger.updateAccount({ accountId: "core-missing", overdraftLimitCents: 1n })), "ACCOUNT_NOT_FOUND");

  const deposit = { idempotencyKey: "d-1", accountId: "core-a", amountCents: 10_000n, currency: "USD" };
  await ledger.depositFunds(deposit, ctx);
  await ledger.depositFunds(deposit, ctx);
  assert.equal(await settle(ledger.depositFunds({ ...deposit, amountCents: 1n }, ctx)), "IDEMPOTENCY_KEY_REUSED");
  assert.equal(await settle(ledger.depositFunds({ ...deposit, idempotencyKey: "d-2", accountId: "core-nobody" }, ctx)), "ACCOUNT_NOT_FOUND");
  await ledger.withdrawFunds({ idempotencyKey: "w-1", accountId: "core-a", amountCents: 100n, currency: "USD", reference: "r" }, ctx);
  await ledger.withdrawFunds({ idempotencyKey: "w-2", accountId: "core-a", amountCents: 10n ** 9n, currency: "USD", reference: "" }, ctx);

  const pay = (key: string, amountCents: bigint, captureMethod: "AUTOMATIC" | "MANUAL" = "AUTOMATIC") =>
    ledger.authorizePayment({ idempotencyKey: key, payerAccountId: "core-a", payeeAccountId: "core-b", amountCents, currency: "USD", description: "", captureMethod }, ctx);
  const paid = await pay("p-1", 500n);
  await pay("p-2", 10n ** 9n);
  const held = await pay("p-3", 300n, "MANUAL");
  const voidable = await pay("p-4", 200n, "MANUAL");
  assert.equal(await settle(ledger.capturePayment({ idempotencyKey: "c-0", paymentId: held.paymentId, amountCents: 301n }, ctx)), "CAPTURE_EXCEEDS_HOLD");
  await ledger.capturePayment({ idempotencyKey: "c-1", paymentId: held.paymentId, amountCents: 100n }, ctx);
  await ledger.voidPayment({ idempotencyKey: "v-1", paymentId: voidable.paymentId }, ctx);
  assert.equal(await settle(ledger.voidPayment({ idempotencyKey: "v-2", paymentId: voidable.paymentId }, ctx)), "INVALID_PAYMENT_STATE");
  await ledger.refundPayment({ idempotencyKey: "r-1", paymentId: paid.paymentId, amountCents: 50n, reason: "" }, ctx);
  assert.equal(await settle(ledger.refundPayment({ idempotencyKey: "r-2", paymentId: paid.paymentId, amountCents: 1_000n, reason: "" }, ctx)), "REFUND_EXCEEDS_CAPTURED");
  assert.equal(await settle(ledger.voidPayment({ idempotencyKey: "v-3", paymentId: ulid() }, ctx)), "PAYMENT_NOT_FOUND");
  // Ten authorizations in one call: the set path, a replay and a missing payee among them.
  await ledger.authorizePayments(
    Array.from({ length: 10 }, (_, i) => ({
      idempotencyKey: i === 9 ? "p-1" : `b-${i}`, payerAccountId: "core-a", payeeAccountId: i === 8 ? "core-nobody" : "core-b",
      amountCents: i === 9 ? 500n : 7n, currency: "USD", description: "", captureMethod: i % 2 && i !== 9 ? ("MANUAL" as const) : ("AUTOMATIC" as const),
    })),
    ctx,
  );

  // A split payment (per-item path): held, captured in part, refunded in part; then an atomic
  // batch whose second item names a missing payee, sent twice (the second time all replays).
  await open("core-c", "C");
  const split = await ledger.authorizePayment(
    { idempotencyKey: "s-1", payerAccountId: "core-a", payeeAccountId: "", amountCents: 90n, currency: "USD", description: "", captureMethod: "MANUAL",
      splits: [{ payeeAccountId: "core-b", amountCents: 60n }, { payeeAccountId: "core-c", amountCents: 30n }] },
    ctx,
  );
  await ledger.capturePayment({ idempotencyKey: "s-2", paymentId: split.paymentId, amountCents: 50n }, ctx);
  await ledger.refundPayment({ idempotencyKey: "s-3", paymentId: split.paymentId, amountCents: 10n, reason: "" }, ctx);
  const atomic = ["core-b", "core-nobody", "core-c"].map((payee, i) => ({
    idempotencyKey: `at-${i}`, payerAccountId: "core-a", payeeAccountId: payee, amountCents: 5n, currency: "USD", description: "",
  }));
  await ledger.authorizePayments(atomic, ctx, true);
  await ledger.authorizePayments(atomic, ctx, true);
  // Metadata, updates and closing: keyed account and payment commands, and the closed-account rule
  // on both paths (a closed payee in a batch of ten takes the set path).
  await ledger.createAccount({ accountId: "core-d", currency: "USD", displayName: "C", metadata: { team: "x" } }, ctx);
  assert.equal(await settle(ledger.createAccount({ accountId: "core-d", currency: "USD", displayName: "C", metadata: { team: "y" } }, ctx)), "ACCOUNT_ALREADY_EXISTS");
  const update = { accountId: "core-d", metadata: { team: "z" }, idempotencyKey: "u-1" };
  await ledger.updateAccount(update, ctx);
  await ledger.updateAccount(update, ctx);
  await ledger.updatePayment({ idempotencyKey: "up-1", paymentId: paid.paymentId, metadata: { order: "1" } }, ctx);
  assert.equal(await settle(ledger.updatePayment({ idempotencyKey: "up-2", paymentId: ulid(), metadata: {} }, ctx)), "PAYMENT_NOT_FOUND");
  assert.equal(await settle(ledger.closeAccount({ accountId: "core-a", idempotencyKey: "x-1" }, ctx)), "ACCOUNT_NOT_EMPTY");
  await ledger.closeAccount({ accountId: "core-d", idempotencyKey: "x-2" }, ctx);
  await ledger.closeAccount({ accountId: "core-d", idempotencyKey: "x-2" }, ctx);
  assert.equal(await settle(ledger.depositFunds({ ...deposit, idempotencyKey: "d-3", accountId: "core-d" }, ctx)), "ACCOUNT_CLOSED");
  await ledger.authorizePayments(
    Array.from({ length: 10 }, (_, i) => ({
      idempotencyKey: `cb-${i}`, payerAccountId: "core-a", payeeAccountId: i === 3 ? "core-d" : "core-b", amountCents: 1n, currency: "USD",
      description: "", metadata: { i: String(i) },
    })),
    ctx,
  );

  const anyResult = Type.Union(Object.values(ResultOf));
  const codes = new Set<string>();
  let replays = 0;
  for (const outcome of outcomes) {
    assert.ok(Value.Check(CommandOutcome, outcome), `outcome shape: ${JSON.stringify(outcome)} (${[...Value.Errors(CommandOutcome, outcome)][0]?.message})`);
    if ("error" in outcome) codes.add(outcome.error.code);
    else {
      if (outcome.replayed) replays += 1;
      assert.ok(Value.Check(anyResult, outcome.result), `result shape: ${JSON.stringify(outcome.result)}`);
    }
  }
  assert.ok(outcomes.length >= 30, `every command answered (${outcomes.length})`);
  assert.ok(replays >= 3, "replays of a deposit, an account and a payment in a batch");
  assert.deepEqual(
    [...codes].sort(),
    ["ABORTED", "ACCOUNT_ALREADY_EXISTS", "ACCOUNT_CLOSED", "ACCOUNT_NOT_EMPTY", "ACCOUNT_NOT_FOUND", "CAPTURE_EXCEEDS_HOLD", "IDEMPOTENCY_KEY_REUSED", "INVALID_PAYMENT_STATE", "PAYMENT_NOT_FOUND", "REFUND_EXCEEDS_CAPTURED"],
  );
});

it("declares the result of each kind exactly: a payment is not a deposit", () => {
  const payment = {
    paymentId: ulid(), status: "AUTHORIZED", declineReason: null, payerAccountId: "a", payeeAccountId: "b", amountCents: { $bigint: "5" },
    currency: "USD", description: "", createdAt: { $date: "2026-01-01T00:00:00.000Z" }, captureMethod: "AUTOMATIC",
    heldCents: { $bigint: "0" }, capturedCents: { $bigint: "5" }, refundedCents: { $bigint: "0" }, holdExpiresAt: null,
  };
  assert.ok(Value.Check(ResultOf.authorize, payment));
  assert.ok(!Value.Check(ResultOf.deposit, payment));
  assert.ok(!Value.Check(ResultOf.authorize, { ...payment, amountCents: "5" }), "amounts are tagged int64");
  assert.ok(!Value.Check(ResultOf.authorize, { ...payment, extra: 1 }), "no undeclared field");
});
