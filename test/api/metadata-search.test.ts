/**
 * Metadata and search through the API (Connect JSON over HTTP/1.1): metadata set on create on
 * accounts, payments, deposits, withdrawals and refunds, returned by every read and carried by every
 * event; part of the idempotency fingerprint; replaced by UpdatePayment / UpdateAccount (keyed,
 * PaymentUpdated / AccountUpdated); the limits with their codes naming the key; ListPayments and
 * ListAccounts filtered by metadata, status, created-at range and amount range together with the
 * account filter and paging (stable while payments are inserted); bad input for every new field.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { sql } from "drizzle-orm";
import { AccountStatus } from "../../gen/payment/v1/account_pb.js";
import { CaptureMethod, PaymentStatus, type Payment } from "../../gen/payment/v1/payment_pb.js";
import { jsonClients, type LedgerClients } from "../support/clients.js";
import { assertLedgerInvariants, rows } from "../support/invariants.js";
import { startTestService, type TestService } from "../support/service.js";
import { rejectsWith } from "../support/connect-errors.js";


describe("metadata and search", () => {
  let running: TestService;
  let api: LedgerClients;
  let seq = 0;
  const key = (what: string) => `${what}-${++seq}`;
  const db = () => running.service.database.db;

  before(async () => {
    running = await startTestService();
    api = jsonClients(running.url);
  });
  after(() => running.stop());

  async function account(cents = 0n, metadata: Record<string, string> = {}): Promise<string> {
    const { account } = await api.accounts.createAccount({ currency: "USD", displayName: "acct", metadata });
    if (cents > 0n) await api.accounts.depositFunds({ idempotencyKey: key("dep"), accountId: account!.accountId, amountCents: cents, currency: "USD" });
    return account!.accountId;
  }
  const eventsOf = async (type: string, aggregateId: string) =>
    (await rows(db(), sql`select envelope from outbox where event_type = ${type} and aggregate_id = ${aggregateId} order by id`))
      .map((r) => (r.envelope as { payload: Record<string, unknown> }).payload);

  it("keeps metadata on every object, returns it from every read and carries it in every event", async () => {
    const alice = await account(0n, { customer: "c-1" });
    assert.deepEqual((await api.accounts.getAccount({ accountId: alice })).account!.metadata, { customer: "c-1" });
    assert.deepEqual((await eventsOf("AccountCreated", alice))[0]!.metadata, { customer: "c-1" });
    const bob = await account();

    const deposit = (await api.accounts.depositFunds({ idempotencyKey: key("d"), accountId: alice, amountCents: 5_000n, currency: "USD", metadata: { source: "wire" } })).deposit!;
    assert.deepEqual(deposit.metadata, { source: "wire" });
    assert.deepEqual((await eventsOf("FundsDeposited", alice)).at(-1)!.metadata, { source: "wire" });

    const payment = (await api.payments.authorizePayment({
      idempotencyKey: key("p"), payerAccountId: alice, payeeAccountId: bob, amountCents: 1_000n, currency: "USD", metadata: { order: "o-1", shop: "s-1" },
    })).payment!;
    assert.deepEqual(payment.metadata, { order: "o-1", shop: "s-1" });
    assert.deepEqual((await api.payments.getPayment({ paymentId: payment.paymentId })).payment!.metadata, payment.metadata);
    assert.deepEqual((await eventsOf("PaymentAuthorized", payment.paymentId))[0]!.metadata, payment.metadata);

    const refund = await api.payments.refundPayment({ idempotencyKey: key("r"), paymentId: payment.paymentId, amountCents: 100n, metadata: { ticket: "t-9" } });
    assert.deepEqual(refund.refund!.metadata, { ticket: "t-9" });
    assert.deepEqual(refund.payment!.metadata, payment.metadata, "the refund answers the payment with its metadata");
    assert.deepEqual((await eventsOf("PaymentRefunded", payment.paymentId))[0]!.metadata, { ticket: "t-9" });

    const withdrawal = (await api.accounts.withdrawFunds({ idempotencyKey: key("w"), accountId: alice, amountCents: 10n, currency: "USD", metadata: { bank: "b" } })).withdrawal!;
    assert.deepEqual(withdrawal.metadata, { bank: "b" });
    assert.deepEqual((await eventsOf("FundsWithdrawn", alice)).at(-1)!.metadata, { bank: "b" });

    const held = (await api.payments.authorizePayment({
      idempotencyKey: key("h"), payerAccountId: alice, payeeAccountId: bob, amountCents: 10n, currency: "USD", captureMethod: CaptureMethod.MANUAL,
      metadata: { order: "o-2" },
    })).payment!;
    await api.payments.capturePayment({ idempotencyKey: key("c"), paymentId: held.paymentId });
    assert.deepEqual((await eventsOf("PaymentCaptured", held.paymentId))[0]!.metadata, { order: "o-2" });
    await assertLedgerInvariants(db());
  });

  it("makes metadata part of the idempotency fingerprint: the same key with other metadata is refused, the same request replays", async () => {
    const payer = await account(1_000n);
    const payee = await account();
    const request = { idempotencyKey: key("fp"), payerAccountId: payer, payeeAccountId: payee, amountCents: 10n, currency: "USD", metadata: { a: "1", b: "2" } };
    const first = (await api.payments.authorizePayment(request)).payment!;
    const again = (await api.payments.authorizePayment({ ...request, metadata: { b: "2", a: "1" } })).payment!;
    assert.equal(again.paymentId, first.paymentId, "key order does not matter: a replay");
    await rejectsWith(api.payments.authorizePayment({ ...request, metadata: { a: "1", b: "3" } }), Code.AlreadyExists, "IDEMPOTENCY_KEY_REUSED");
    await rejectsWith(api.payments.authorizePayment({ ...request, metadata: {} }), Code.AlreadyExists, "IDEMPOTENCY_KEY_REUSED");
    const deposit = { idempotencyKey: key("fd"), accountId: payer, amountCents: 5n, currency: "USD", metadata: { x: "1" } };
    await api.accounts.depositFunds(deposit);
    await rejectsWith(api.accounts.depositFunds({ ...deposit, metadata: { x: "2" } }), Code.AlreadyExists, "IDEMPOTENCY_KEY_REUSED");
    const account2 = { accountId: key("acct"), currency: "USD", displayName: "same", metadata: { k: "v" } };
    await api.accounts.createAccount(account2);
    await api.accounts.createAccount(account2);
    await rejectsWith(api.accounts.createAccount({ ...account2, metadata: { k: "w" } }), Code.AlreadyExists, "ACCOUNT_ALREADY_EXISTS");
  });

  it("replaces a payment's and an account's metadata with a keyed update and an event; replays answer the same, another body is refused", async () => {
    const payer = await account(1_000n);
    const payee = await account();
    const payment = (await api.payments.authorizePayment({
      idempotencyKey: key("p"), payerAccountId: payer, payeeAccountId: payee, amountCents: 10n, currency: "USD", metadata: { order: "1" },
    })).payment!;
    const update = { paymentId: payment.paymentId, idempotencyKey: key("up"), metadata: { order: "1", invoice: "inv-7" } };
    const updated = (await api.payments.updatePayment(update)).payment!;
    assert.deepEqual(updated.metadata, { order: "1", invoice: "inv-7" });
    assert.equal(updated.status, PaymentStatus.AUTHORIZED);
    assert.equal(updated.amountCents, 10n);
    assert.deepEqual((await api.payments.updatePayment(update)).payment, updated, "a replay");
    await rejectsWith(api.payments.updatePayment({ ...update, metadata: {} }), Code.AlreadyExists, "IDEMPOTENCY_KEY_REUSED");
    assert.deepEqual((await api.payments.getPayment({ paymentId: payment.paymentId })).payment!.metadata, update.metadata);
    const events = await eventsOf("PaymentUpdated", payment.paymentId);
    assert.equal(events.length, 1, "one event for the update and its replay");
    assert.deepEqual(events[0]!.metadata, update.metadata);
    const cleared = (await api.payments.updatePayment({ paymentId: payment.paymentId, idempotencyKey: key("up"), metadata: {} })).payment!;
    assert.deepEqual(cleared.metadata, {}, "an empty map clears");
    await rejectsWith(api.payments.updatePayment({ paymentId: "01ARZ3NDEKTSV4RRFFQ69G5FAV", idempotencyKey: key("up"), metadata: {} }), Code.NotFound, "PAYMENT_NOT_FOUND");
    await rejectsWith(api.payments.updatePayment({ paymentId: payment.paymentId, metadata: {} }), Code.InvalidArgument, "INVALID_ARGUMENT", "idempotency_key");
    await rejectsWith(api.payments.updatePayment({ paymentId: "nope", idempotencyKey: key("up"), metadata: {} }), Code.InvalidArgument, "INVALID_ARGUMENT", "payment_id");

    const id = await account(0n, { tier: "gold" });
    const request = { accountId: id, metadata: { tier: "silver" }, idempotencyKey: key("ua"), updateMask: { paths: ["metadata"] } };
    const answer = await api.accounts.updateAccount(request);
    assert.deepEqual(answer.account!.metadata, { tier: "silver" });
    assert.equal(answer.overdraftLimitCents, 0n, "the limit is unchanged");
    assert.deepEqual(await api.accounts.updateAccount(request), answer, "a replay");
    await rejectsWith(api.accounts.updateAccount({ ...request, metadata: { tier: "bronze" } }), Code.AlreadyExists, "IDEMPOTENCY_KEY_REUSED");
    const both = await api.accounts.updateAccount({
      accountId: id, metadata: { tier: "bronze" }, overdraftLimitCents: 500n, idempotencyKey: key("ua"), updateMask: { paths: ["metadata", "overdraft_limit_cents"] },
    });
    assert.equal(both.overdraftLimitCents, 500n);
    assert.deepEqual(both.account!.metadata, { tier: "bronze" });
    const legacy = await api.accounts.updateAccount({ accountId: id, overdraftLimitCents: 700n });
    assert.equal(legacy.overdraftLimitCents, 700n, "without a mask: the limit alone, as before");
    assert.deepEqual(legacy.account!.metadata, { tier: "bronze" });
    const accountEvents = await eventsOf("AccountUpdated", id);
    assert.deepEqual(accountEvents.map((e) => [e.metadata, e.overdraftLimitCents]), [[{ tier: "silver" }, "0"], [{ tier: "bronze" }, "500"]]);

    await rejectsWith(api.accounts.updateAccount({ accountId: id, metadata: { a: "b" }, updateMask: { paths: ["metadata"] } }),
      Code.InvalidArgument, "INVALID_ARGUMENT", "idempotency_key");
    await rejectsWith(api.accounts.updateAccount({ accountId: id, metadata: { a: "b" }, idempotencyKey: key("ua") }), Code.InvalidArgument, "INVALID_ARGUMENT", "metadata");
    await rejectsWith(api.accounts.updateAccount({ accountId: id, idempotencyKey: key("ua"), updateMask: { paths: ["display_name"] } }),
      Code.InvalidArgument, "INVALID_ARGUMENT", "update_mask");
  });

  it("refuses metadata beyond its limits on every request that takes it, naming the key, and writes nothing", async () => {
    const payer = await account(1_000n);
    const payee = await account();
    const paid = (await api.payments.authorizePayment({ idempotencyKey: key("p"), payerAccountId: payer, payeeAccountId: payee, amountCents: 10n, currency: "USD" })).payment!;
    const [before] = await rows(db(), sql`select (select count(*) from outbox)::int as n`);
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, "v"]));
    const cases: [Record<string, string>, string, string][] = [
      [many, "METADATA_TOO_MANY_KEYS", "metadata"],
      [{ ["k".repeat(41)]: "v" }, "METADATA_KEY_INVALID", `metadata["${"k".repeat(40)}..."]`],
      [{ "": "v" }, "METADATA_KEY_INVALID", 'metadata[""]'],
      [{ "bad\u200bkey": "v" }, "METADATA_KEY_INVALID", 'metadata["bad\u200bkey"]'],
      [{ note: "x".repeat(501) }, "METADATA_VALUE_INVALID", 'metadata["note"]'],
      [{ note: "a\u0000b" }, "METADATA_VALUE_INVALID", 'metadata["note"]'],
    ];
    const exactly = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`${"k".repeat(38)}${String(i).padStart(2, "0")}`, "é".repeat(500)]));
    const senders: ((metadata: Record<string, string>) => Promise<unknown>)[] = [
      (metadata) => api.accounts.createAccount({ currency: "USD", displayName: "x", metadata }),
      (metadata) => api.accounts.depositFunds({ idempotencyKey: key("d"), accountId: payer, amountCents: 1n, currency: "USD", metadata }),
      (metadata) => api.accounts.withdrawFunds({ idempotencyKey: key("w"), accountId: payer, amountCents: 1n, currency: "USD", metadata }),
      (metadata) => api.payments.authorizePayment({ idempotencyKey: key("p"), payerAccountId: payer, payeeAccountId: payee, amountCents: 1n, currency: "USD", metadata }),
      (metadata) => api.payments.refundPayment({ idempotencyKey: key("r"), paymentId: paid.paymentId, amountCents: 1n, metadata }),
      (metadata) => api.payments.updatePayment({ idempotencyKey: key("u"), paymentId: paid.paymentId, metadata }),
      (metadata) => api.accounts.updateAccount({ accountId: payer, idempotencyKey: key("u"), metadata, updateMask: { paths: ["metadata"] } }),
      (metadata) => api.payments.listPayments({ metadata }),
      (metadata) => api.accounts.listAccounts({ metadata }),
    ];
    for (const send of senders) {
      for (const [metadata, code, field] of cases) await rejectsWith(send(metadata), Code.InvalidArgument, code, field);
    }
    const [afterRefusals] = await rows(db(), sql`select (select count(*) from outbox)::int as n`);
    assert.equal(afterRefusals!.n, before!.n, "no refused request wrote an event");
    // At the limits exactly (50 keys of 40 characters, values of 500 characters): accepted.
    for (const send of senders) await send(exactly);
    const batch = await api.payments.authorizePayments({
      items: [
        { idempotencyKey: key("b"), payerAccountId: payer, payeeAccountId: payee, amountCents: 1n, currency: "USD", metadata: many },
        { idempotencyKey: key("b"), payerAccountId: payer, payeeAccountId: payee, amountCents: 1n, currency: "USD", metadata: { ok: "yes" } },
      ],
    });
    assert.deepEqual(batch.outcomes.map((o) => (o.outcome.case === "error" ? [o.outcome.value.code, o.outcome.value.field] : "payment")),
      [["METADATA_TOO_MANY_KEYS", "metadata"], "payment"], "in a batch the item fails alone");
  });

  it("filters payments by metadata, status, created-at range and amount range together, with the account filter and stable paging", async () => {
    const shop = key("shop");
    const payer = await account(1_000_000n);
    const payees = [await account(), await account()];
    const made: Payment[] = [];
    for (let i = 0; i < 30; i++) {
      const { payment } = await api.payments.authorizePayment({
        idempotencyKey: key("s"), payerAccountId: payer, payeeAccountId: payees[i % 2]!, amountCents: BigInt(100 + i), currency: "USD",
        captureMethod: i % 5 === 0 ? CaptureMethod.MANUAL : CaptureMethod.AUTOMATIC,
        metadata: { shop, parity: i % 2 ? "odd" : "even", nth: String(i) },
      });
      made.push(payment!);
    }
    const ids = (payments: Payment[]) => payments.map((p) => p.paymentId);
    const newestFirst = (payments: Payment[]) => ids(payments).reverse();
    const list = (request: Parameters<LedgerClients["payments"]["listPayments"]>[0]) => api.payments.listPayments({ pageSize: 500, ...request });

    assert.deepEqual(ids((await list({ metadata: { shop } })).payments), newestFirst(made));
    assert.deepEqual(ids((await list({ metadata: { shop, parity: "odd" } })).payments), newestFirst(made.filter((_, i) => i % 2)), "every pair must match");
    assert.deepEqual(ids((await list({ metadata: { shop, parity: "none" } })).payments), []);
    assert.deepEqual(ids((await list({ metadata: { shop }, statuses: [PaymentStatus.REQUIRES_CAPTURE] })).payments), newestFirst(made.filter((_, i) => i % 5 === 0)));
    assert.deepEqual(ids((await list({ metadata: { shop }, minAmountCents: 110n, maxAmountCents: 119n })).payments), newestFirst(made.slice(10, 20)), "amount bounds are inclusive");
    assert.deepEqual(ids((await list({ metadata: { shop }, minAmountCents: 125n })).payments), newestFirst(made.slice(25)));
    assert.deepEqual(ids((await list({ metadata: { shop }, maxAmountCents: 101n })).payments), newestFirst(made.slice(0, 2)));
    assert.deepEqual(ids((await list({ metadata: { shop }, accountId: payees[1]!, minAmountCents: 120n })).payments),
      newestFirst(made.filter((_, i) => i % 2 && i >= 20)), "with the account filter");
    const from = made[10]!.createdAt!;
    const to = made[20]!.createdAt!;
    assert.deepEqual(ids((await list({ metadata: { shop }, createdAfter: from, createdBefore: to, statuses: [PaymentStatus.AUTHORIZED] })).payments),
      newestFirst(made.slice(10, 20).filter((_, i) => (i + 10) % 5 !== 0)), "status and created range together");

    // Pages of 4 while newer matching payments arrive: no row repeats, none is skipped.
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await list({ metadata: { shop, parity: "even" }, minAmountCents: 100n, pageSize: 4, pageToken: token });
      seen.push(...ids(page.payments));
      token = page.nextPageToken;
      await api.payments.authorizePayment({
        idempotencyKey: key("late"), payerAccountId: payer, payeeAccountId: payees[0]!, amountCents: 500n, currency: "USD", metadata: { shop, parity: "even" },
      });
      pages += 1;
    } while (token !== "");
    assert.equal(pages, 4);
    assert.deepEqual(seen, newestFirst(made.filter((_, i) => i % 2 === 0)));
    await rejectsWith(list({ metadata: { shop, parity: "odd" }, pageSize: 4, pageToken: (await list({ metadata: { shop }, pageSize: 4 })).nextPageToken }),
      Code.InvalidArgument, "INVALID_ARGUMENT", "page_token");
  });

  it("filters accounts by metadata, status and created-at range, paged", async () => {
    const team = key("team");
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push(await account(0n, { team, role: i < 3 ? "admin" : "member" }));
    await api.accounts.closeAccount({ accountId: made[6]!, idempotencyKey: key("close") });
    const list = (request: Parameters<LedgerClients["accounts"]["listAccounts"]>[0]) => api.accounts.listAccounts({ pageSize: 500, ...request });
    const ids = (r: { accounts: { accountId: string }[] }) => r.accounts.map((a) => a.accountId);
    const sorted = (values: string[]) => [...values].sort();
    assert.deepEqual(ids(await list({ metadata: { team } })), sorted(made));
    assert.deepEqual(ids(await list({ metadata: { team, role: "admin" } })), sorted(made.slice(0, 3)));
    assert.deepEqual(ids(await list({ metadata: { team }, statuses: [AccountStatus.CLOSED] })), [made[6]]);
    assert.deepEqual(ids(await list({ metadata: { team }, statuses: [AccountStatus.OPEN] })), sorted(made.slice(0, 6)));
    assert.deepEqual(ids(await list({ metadata: { team }, statuses: [AccountStatus.OPEN, AccountStatus.CLOSED] })), sorted(made));
    const third = (await api.accounts.getAccount({ accountId: made[3]! })).account!;
    assert.deepEqual(ids(await list({ metadata: { team }, createdAfter: third.createdAt })), sorted(made.slice(3)));
    assert.deepEqual(ids(await list({ metadata: { team }, createdBefore: third.createdAt })), sorted(made.slice(0, 3)));
    const paged: string[] = [];
    let token = "";
    do {
      const page = await api.accounts.listAccounts({ metadata: { team }, pageSize: 3, pageToken: token });
      paged.push(...ids(page));
      token = page.nextPageToken;
    } while (token !== "");
    assert.deepEqual(paged, sorted(made));
  });

  it("refuses bad search input with the field it is about", async () => {
    const at = timestampFromDate(new Date("2026-01-01T00:00:00Z"));
    await rejectsWith(api.payments.listPayments({ minAmountCents: -1n }), Code.InvalidArgument, "INVALID_ARGUMENT", "min_amount_cents");
    await rejectsWith(api.payments.listPayments({ maxAmountCents: -5n }), Code.InvalidArgument, "INVALID_ARGUMENT", "max_amount_cents");
    await rejectsWith(api.payments.listPayments({ minAmountCents: 10n, maxAmountCents: 9n }), Code.InvalidArgument, "INVALID_ARGUMENT", "max_amount_cents");
    await rejectsWith(api.payments.listPayments({ createdAfter: at, createdBefore: at }), Code.InvalidArgument, "INVALID_ARGUMENT", "created_before");
    await rejectsWith(api.accounts.listAccounts({ createdAfter: at, createdBefore: at }), Code.InvalidArgument, "INVALID_ARGUMENT", "created_before");
    await rejectsWith(api.accounts.listAccounts({ statuses: [AccountStatus.UNSPECIFIED] }), Code.InvalidArgument, "INVALID_ARGUMENT", "statuses");
    await rejectsWith(api.accounts.listAccounts({ statuses: [7 as AccountStatus] }), Code.InvalidArgument, "INVALID_ARGUMENT", "statuses");
  });
});
