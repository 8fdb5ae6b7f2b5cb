/**
 * The group-commit path of AuthorizePayment: requests that queue up while a batch runs are applied
 * together in one database call, and each still gets exactly the outcome it would get alone.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { ulid } from "../../src/ids/ulid.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { PaymentBatcher } from "../../src/ledger/payment-batch.js";
import { authorizePayment, authorizePayments, MAX_PAYMENTS_PER_BATCH, type AuthorizePaymentCommand } from "../../src/ledger/payments.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { assertLedgerInvariants } from "../support/invariants.js";
import { spyOnLedgerApply } from "../support/ledger-apply-spy.js";

const ctx = { clientId: "batch" };
let database: TestDatabase;
let ledger: Ledger;
let payer: string;
let payee: string;
let calls = 0;
let batcher: PaymentBatcher;

before(async () => {
  database = await createTestDatabase(5);
  ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
  payer = (await ledger.createAccount({ accountId: "", currency: "EUR", displayName: "payer" }, ctx)).accountId;
  payee = (await ledger.createAccount({ accountId: "", currency: "EUR", displayName: "payee" }, ctx)).accountId;
  await ledger.depositFunds({ idempotencyKey: "seed", accountId: payer, amountCents: 1_000n, currency: "EUR" }, ctx);
  // Counts ledger_apply calls (not the notifications sent after commits), and allows one batch at
  // a time so that everything submitted while it runs forms the next batch.
  const counting = spyOnLedgerApply(database.handle.db, { onCall: () => calls++ });
  batcher = new PaymentBatcher(counting, { idempotencyTtlHours: 24, maxBatchSize: 64, maxInFlight: 1 });
});
after(() => database.drop());

const command = (idempotencyKey: string, change: Partial<AuthorizePaymentCommand> = {}): AuthorizePaymentCommand => ({
  idempotencyKey,
  payerAccountId: payer,
  payeeAccountId: payee,
  amountCents: 300n,
  currency: "EUR",
  description: "",
  ...change,
});

type Outcome = { value: unknown } | { error: string };

/** Outcome of each request, as a value or the ledger error code. */
const settle = (requests: Promise<unknown>[]): Promise<Outcome[]> =>
  Promise.all(requests.map((r) => r.then((value) => ({ value }), (error: { code?: string }) => ({ error: error.code ?? String(error) }))));

it("gives every request of one batch its own outcome, decided in order under the lock", async () => {
  calls = 0;
  const blocker = authorizePayment(batcher, command("blocker", { amountCents: 1n }), ctx);
  // Submitted while the blocker's batch runs: these six form the second batch.
  const batch = [
    authorizePayment(batcher, command("a"), ctx),
    authorizePayment(batcher, command("a"), ctx), // the same request again: a replay of "a"
    authorizePayment(batcher, command("a", { amountCents: 5n }), ctx), // same key, other request
    authorizePayment(batcher, command("missing", { payerAccountId: "nobody" }), ctx),
    authorizePayment(batcher, command("b"), ctx),
    authorizePayment(batcher, command("c"), ctx), // 999 - 300 - 300 = 399 left: authorized
    authorizePayment(batcher, command("d"), ctx), // 99 left: declined
  ];
  await blocker;
  const [a, replay, reused, missing, b, c, d] = await settle(batch);
  assert.equal(calls, 2, "the blocker alone, then the seven together");

  const payment = (o: unknown) => (o as { value: { paymentId: string; status: string } }).value;
  assert.equal(payment(a).status, "AUTHORIZED");
  assert.deepEqual(replay, a);
  assert.deepEqual(reused, { error: "IDEMPOTENCY_KEY_REUSED" });
  assert.deepEqual(missing, { error: "ACCOUNT_NOT_FOUND" });
  assert.deepEqual([b, c, d].map((o) => payment(o).status), ["AUTHORIZED", "AUTHORIZED", "DECLINED"]);
  assert.equal((await ledger.getBalance(payer)).availableCents, 99n);
  assert.equal((await ledger.getBalance(payee)).availableCents, 901n);

  // The failed request took no key: it can be used for a valid payment.
  const retried = await authorizePayment(batcher, command("missing", { amountCents: 1n }), ctx);
  assert.equal(retried.status, "AUTHORIZED");
  await assertLedgerInvariants(ledger.db);
});

it("fails only the poisonous request when its batch cannot run", async () => {
  calls = 0;
  const blocker = authorizePayment(batcher, command("blocker-2", { amountCents: 1n }), ctx);
  // An item validation would never let through (an amount beyond int64, which still has the
  // declared shape: 19 digits) makes the whole batch statement fail in PostgreSQL; it is submitted
  // to the batcher directly.
  const poisonItem = {
    kind: "authorize" as const, at: new Date().toISOString(), eventId: ulid(), traceparent: null, tenantId: "default",
    clientId: ctx.clientId, key: "poison", method: "AuthorizePayment", requestHash: "poison",
    paymentId: ulid(), payerAccountId: payer, payeeAccountId: payee, amountCents: "9999999999999999999",
    currency: "EUR", description: "", captureMethod: "AUTOMATIC" as const, holdExpiresAt: null,
  };
  const requests = [
    authorizePayment(batcher, command("fine-1", { amountCents: 1n }), ctx),
    batcher.submit(poisonItem),
    authorizePayment(batcher, command("fine-2", { amountCents: 1n }), ctx),
  ];
  await blocker;
  const [fine1, poison, fine2] = (await settle(requests)) as [Outcome, Outcome, Outcome];
  assert.ok("error" in poison, "the poisonous request fails");
  assert.ok("value" in fine1 && "value" in fine2, "its batch mates are authorized");
  assert.equal(calls, 1 + 1 + 3, "blocker, the failed batch, then each of its items alone");
  await assertLedgerInvariants(ledger.db);
});

it("refuses an item that does not have its declared shape before it reaches the database", async () => {
  calls = 0;
  const malformed = { kind: "authorize", at: new Date().toISOString(), eventId: ulid(), traceparent: null, paymentId: ulid() };
  assert.throws(() => batcher.submit(malformed as never), /ledger_apply item authorize is malformed/);
  assert.equal(calls, 0, "no database call");
});

it("answers a whole AuthorizePayments call in order, each item as alone, in one database call", async () => {
  const batchPayer = (await ledger.createAccount({ accountId: "", currency: "EUR", displayName: "batch payer" }, ctx)).accountId;
  await ledger.depositFunds({ idempotencyKey: "seed-batch", accountId: batchPayer, amountCents: 500n, currency: "EUR" }, ctx);
  const item = (key: string, change: Partial<AuthorizePaymentCommand> = {}) => command(key, { payerAccountId: batchPayer, amountCents: 200n, ...change });
  calls = 0;
  const outcomes = await authorizePayments(
    batcher,
    [
      item("m-1"),
      item("m-bad", { amountCents: 0n }), // invalid: never reaches the database
      item("m-1"), // the same request again in the same call: a replay of the first
      item("m-1", { amountCents: 7n }), // same key, other request
      item("m-missing", { payeeAccountId: "nobody" }),
      item("m-2"), // 300 left: authorized
      item("m-3"), // 100 left: declined, decided after m-2
    ],
    ctx,
  );
  assert.equal(calls, 1, "every valid item travelled in one batch");
  const summary = outcomes.map((o) => ("payment" in o ? o.payment.status : o.error.code));
  assert.deepEqual(summary, ["AUTHORIZED", "INVALID_ARGUMENT", "AUTHORIZED", "IDEMPOTENCY_KEY_REUSED", "ACCOUNT_NOT_FOUND", "AUTHORIZED", "DECLINED"]);
  const [first, bad, replay] = outcomes as [{ payment: unknown }, { error: { field?: string; message: string } }, { payment: unknown }];
  assert.deepEqual(replay.payment, first.payment, "the replay answers with the first item's payment");
  assert.equal(bad.error.field, "amount_cents");
  assert.match(bad.error.message, /^amount_cents: /);
  assert.equal((await ledger.getBalance(batchPayer)).availableCents, 100n);
  await assertLedgerInvariants(ledger.db);
});

it("refuses an AuthorizePayments call that is empty or holds more than 1,000 items, writing nothing", async () => {
  calls = 0;
  for (const count of [0, MAX_PAYMENTS_PER_BATCH + 1]) {
    const commands = Array.from({ length: count }, (_, i) => command(`too-many-${i}`, { amountCents: 1n }));
    await assert.rejects(authorizePayments(batcher, commands, ctx), (error: { code?: string; field?: string }) => {
      assert.deepEqual({ code: error.code, field: error.field }, { code: "INVALID_ARGUMENT", field: "items" });
      return true;
    });
  }
  assert.equal(calls, 0);
});
