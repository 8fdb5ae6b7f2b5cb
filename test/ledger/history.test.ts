/**
 * The read side against real PostgreSQL: statements with running balances, keyset pages that new
 * writes never shift, payment and account lists, balances as of an instant, payments found by
 * their idempotency key.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Ledger } from "../../src/ledger/ledger.js";
import { LedgerError } from "../../src/ledger/ledger-error.js";
import type { Page } from "../../src/ledger/history.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

const ctx = { clientId: "history-client" };
let database: TestDatabase;
let ledger: Ledger;
let keySeq = 0;
const key = () => `key-${++keySeq}`;

async function account(displayName = "acct", currency = "USD") {
  return (await ledger.createAccount({ currency, displayName, accountId: "" }, ctx)).accountId;
}
const deposit = (accountId: string, amountCents: bigint) =>
  ledger.depositFunds({ idempotencyKey: key(), accountId, amountCents, currency: "USD" }, ctx);
const pay = (payerAccountId: string, payeeAccountId: string, amountCents: bigint, idempotencyKey = key()) =>
  ledger.authorizePayment({ idempotencyKey, payerAccountId, payeeAccountId, amountCents, currency: "USD", description: "" }, ctx);

/** Every page of a list, following next_page_token; `between` runs after each page (e.g. new writes). */
async function allPages<T>(fetch: (token: string) => Promise<Page<T>>, between?: () => Promise<void>): Promise<T[]> {
  const items: T[] = [];
  let token = "";
  do {
    const page = await fetch(token);
    items.push(...page.items);
    token = page.nextPageToken;
    await between?.();
  } while (token !== "");
  return items;
}

function assertInvalid(field: string) {
  return (error: unknown) => error instanceof LedgerError && error.code === "INVALID_ARGUMENT" && error.field === field;
}

before(async () => {
  database = await createTestDatabase(5);
  ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
});
after(() => database.drop());

describe("ListAccountEntries (the statement)", () => {
  it("shows every change with signed amount, balance before and after, cause and sequence", async () => {
    const a = await account();
    const b = await account();
    const dep = await deposit(a, 1_000n);
    const p1 = await pay(a, b, 300n);
    const declined = await pay(a, b, 5_000n);
    assert.equal(declined.status, "DECLINED");
    const p2 = await pay(b, a, 50n);

    const { items, nextPageToken } = await ledger.listAccountEntries({ accountId: a, newestFirst: false, pageSize: 0, pageToken: "" });
    assert.equal(nextPageToken, "");
    assert.deepEqual(
      items.map((e) => [e.sequence, e.amountCents, e.balanceBeforeCents, e.balanceAfterCents, e.causeKind, e.causeId]),
      [
        [1n, 1_000n, 0n, 1_000n, "DEPOSIT", dep.depositId],
        [2n, -300n, 1_000n, 700n, "PAYMENT", p1.paymentId],
        [3n, 50n, 700n, 750n, "PAYMENT", p2.paymentId],
      ],
      "a declined payment writes no entry",
    );
    assert.equal(items.at(-1)!.balanceAfterCents, (await ledger.getBalance(a)).availableCents);
    assert.ok(items.every((e) => /^[0-9a-f]{64}$/.test(e.entryHash)));

    const newest = await ledger.listAccountEntries({ accountId: a, newestFirst: true, pageSize: 1, pageToken: "" });
    assert.equal(newest.items[0]!.sequence, 3n);
    assert.notEqual(newest.nextPageToken, "");
  });

  it("pages without gaps or repeats while new entries keep arriving, in both directions", async () => {
    const a = await account();
    const b = await account();
    await deposit(a, 100_000n);
    for (let i = 0; i < 9; i++) await pay(a, b, 10n);
    const before = (await ledger.getBalance(a)).entrySequence;

    for (const newestFirst of [false, true]) {
      const seen = await allPages(
        (pageToken) => ledger.listAccountEntries({ accountId: a, newestFirst, pageSize: 3, pageToken }),
        async () => void (await pay(a, b, 1n)),
      );
      const sequences = seen.map((e) => e.sequence);
      assert.equal(new Set(sequences).size, sequences.length, "no entry appears twice");
      for (let s = 1n; s <= before; s++) assert.ok(sequences.includes(s), `entry ${s} (written before the first page) is listed`);
      const sorted = [...sequences].sort((x, y) => (x < y ? -1 : 1));
      assert.deepEqual(sequences, newestFirst ? sorted.reverse() : sorted);
    }
  });

  it("explains every change of the available balance: hold movements beside entries, every cause named", async () => {
    const a = await account();
    const b = await account();
    const dep = await deposit(a, 1_000n);
    const manual = (amountCents: bigint) =>
      ledger.authorizePayment({ idempotencyKey: key(), payerAccountId: a, payeeAccountId: b, amountCents, currency: "USD", description: "", captureMethod: "MANUAL" }, ctx);
    const held = await manual(400n);
    await ledger.capturePayment({ idempotencyKey: key(), paymentId: held.paymentId, amountCents: 250n }, ctx);
    const refund = await ledger.refundPayment({ idempotencyKey: key(), paymentId: held.paymentId, amountCents: 100n, reason: "" }, ctx);
    const voided = await manual(30n);
    await ledger.voidPayment({ idempotencyKey: key(), paymentId: voided.paymentId }, ctx);
    const open = await manual(20n);
    const payout = await ledger.withdrawFunds({ idempotencyKey: key(), accountId: a, amountCents: 5n, currency: "USD", reference: "bank" }, ctx);

    const lines = await allPages((pageToken) => ledger.listAccountEntries({ accountId: a, newestFirst: false, pageSize: 2, pageToken }));
    assert.deepEqual(
      lines.map((e) => [e.kind, e.sequence, e.amountCents, e.availableBeforeCents, e.availableAfterCents, e.balanceAfterCents, e.causeKind, e.causeId]),
      [
        ["ENTRY", 1n, 1_000n, 0n, 1_000n, 1_000n, "DEPOSIT", dep.depositId],
        ["HELD", 0n, -400n, 1_000n, 600n, 1_000n, "PAYMENT", held.paymentId],
        // A capture releases the whole hold, then moves the captured part.
        ["RELEASED", 0n, 400n, 600n, 1_000n, 1_000n, "PAYMENT", held.paymentId],
        ["ENTRY", 2n, -250n, 1_000n, 750n, 750n, "CAPTURE", held.paymentId],
        ["ENTRY", 3n, 100n, 750n, 850n, 850n, "REFUND", refund.refundId],
        ["HELD", 0n, -30n, 850n, 820n, 850n, "PAYMENT", voided.paymentId],
        ["RELEASED", 0n, 30n, 820n, 850n, 850n, "PAYMENT", voided.paymentId],
        ["HELD", 0n, -20n, 850n, 830n, 850n, "PAYMENT", open.paymentId],
        ["ENTRY", 4n, -5n, 830n, 825n, 845n, "WITHDRAWAL", payout.withdrawalId],
      ],
    );
    const balance = await ledger.getBalance(a);
    assert.deepEqual([lines.at(-1)!.availableAfterCents, lines.at(-1)!.balanceAfterCents], [balance.availableCents, balance.ledgerCents]);
    assert.ok(lines.filter((e) => e.kind !== "ENTRY").every((e) => e.entryHash === "" && e.entryId === 0n));

    const newestFirst = await allPages((pageToken) => ledger.listAccountEntries({ accountId: a, newestFirst: true, pageSize: 4, pageToken }));
    assert.deepEqual(newestFirst, [...lines].reverse(), "the same lines newest first, across pages");

    // As of now: the three balances of the balances row; as of before the open hold: nothing held.
    const now = await ledger.getBalanceAsOf(a, new Date(Date.now() + 60_000));
    assert.deepEqual([now.availableCents, now.heldCents, now.ledgerCents], [balance.availableCents, balance.heldCents, balance.ledgerCents]);
    const whileHeld = await ledger.getBalanceAsOf(a, lines[1]!.createdAt);
    assert.deepEqual([whileHeld.availableCents, whileHeld.heldCents, whileHeld.ledgerCents], [600n, 400n, 1_000n]);
  });

  it("filters by time range and refuses bad tokens and ranges", async () => {
    const a = await account();
    await deposit(a, 10n);
    const middle = new Date();
    await new Promise((resolve) => setTimeout(resolve, 5)); // two distinct millisecond timestamps, not a wait for a condition
    await deposit(a, 20n);
    const later = await ledger.listAccountEntries({ accountId: a, from: middle, newestFirst: false, pageSize: 10, pageToken: "" });
    const earlier = await ledger.listAccountEntries({ accountId: a, to: middle, newestFirst: false, pageSize: 10, pageToken: "" });
    assert.deepEqual(later.items.map((e) => e.amountCents), [20n]);
    assert.deepEqual(earlier.items.map((e) => e.amountCents), [10n]);

    const first = await ledger.listAccountEntries({ accountId: a, newestFirst: false, pageSize: 1, pageToken: "" });
    await assert.rejects(
      ledger.listAccountEntries({ accountId: a, newestFirst: true, pageSize: 1, pageToken: first.nextPageToken }),
      assertInvalid("page_token"),
      "a token only continues the request it came from",
    );
    await assert.rejects(ledger.listAccountEntries({ accountId: a, newestFirst: false, pageSize: 1, pageToken: "garbage!" }), assertInvalid("page_token"));
    await assert.rejects(ledger.listAccountEntries({ accountId: a, newestFirst: false, pageSize: 501, pageToken: "" }), assertInvalid("page_size"));
    await assert.rejects(ledger.listAccountEntries({ accountId: a, from: middle, to: middle, newestFirst: false, pageSize: 1, pageToken: "" }), assertInvalid("to"));
    await assert.rejects(
      ledger.listAccountEntries({ accountId: "nope", newestFirst: false, pageSize: 1, pageToken: "" }),
      (error: unknown) => error instanceof LedgerError && error.code === "ACCOUNT_NOT_FOUND",
    );
  });
});

describe("ListPayments", () => {
  it("lists an account's payments as payer and payee, newest first, filtered by status and time", async () => {
    const a = await account();
    const b = await account();
    const c = await account();
    await deposit(a, 1_000n);
    const p1 = await pay(a, b, 100n);
    const p2 = await pay(c, a, 1n); // declined: c has nothing
    const p3 = await pay(b, a, 40n);
    await pay(b, c, 10n); // not a's

    const all = await ledger.listPayments({ accountId: a, statuses: [], pageSize: 0, pageToken: "" });
    assert.deepEqual(all.items.map((p) => p.paymentId), [p3.paymentId, p2.paymentId, p1.paymentId]);
    const declined = await ledger.listPayments({ accountId: a, statuses: ["DECLINED"], pageSize: 0, pageToken: "" });
    assert.deepEqual(declined.items.map((p) => p.paymentId), [p2.paymentId]);
    const since = await ledger.listPayments({ accountId: a, statuses: [], createdAfter: p2.createdAt, pageSize: 0, pageToken: "" });
    assert.deepEqual(since.items.map((p) => p.paymentId), [p3.paymentId, p2.paymentId]);
    assert.deepEqual(all.items[2], await ledger.getPayment(p1.paymentId));

    // Status filters see the status now, not the one at authorization.
    const held = await ledger.authorizePayment({ idempotencyKey: key(), payerAccountId: a, payeeAccountId: b, amountCents: 5n, currency: "USD", description: "", captureMethod: "MANUAL" }, ctx);
    const open = await ledger.listPayments({ accountId: a, statuses: ["REQUIRES_CAPTURE"], pageSize: 0, pageToken: "" });
    assert.deepEqual(open.items.map((p) => [p.paymentId, p.heldCents]), [[held.paymentId, 5n]]);
    await ledger.capturePayment({ idempotencyKey: key(), paymentId: held.paymentId, amountCents: 0n }, ctx);
    assert.deepEqual((await ledger.listPayments({ accountId: a, statuses: ["REQUIRES_CAPTURE"], pageSize: 0, pageToken: "" })).items, []);
    const captured = await ledger.listPayments({ accountId: a, statuses: ["CAPTURED"], pageSize: 0, pageToken: "" });
    assert.deepEqual(captured.items, [await ledger.getPayment(held.paymentId)]);
  });

  it("pages stably while payments keep arriving, with and without an account", async () => {
    const a = await account();
    const b = await account();
    await deposit(a, 100_000n);
    const existing: string[] = [];
    for (let i = 0; i < 7; i++) existing.push((await pay(i % 2 ? b : a, i % 2 ? a : b, 1n)).paymentId);
    for (const accountId of [a, ""]) {
      const seen = await allPages(
        (pageToken) => ledger.listPayments({ accountId, statuses: [], pageSize: 2, pageToken }),
        async () => void (await pay(a, b, 1n)),
      );
      const ids = seen.map((p) => p.paymentId);
      assert.equal(new Set(ids).size, ids.length, "no payment appears twice");
      for (const id of existing) assert.ok(ids.includes(id), `payment ${id} is listed`);
    }
  });
});

describe("ListAccounts", () => {
  it("pages through customer accounts and filters by display name prefix", async () => {
    const tag = `zz${Date.now()}`;
    const ids: string[] = [];
    for (const name of ["alpha", "alpine", "beta"]) ids.push(await account(`${tag} ${name}`));
    const alp = await allPages((pageToken) => ledger.listAccounts({ displayNamePrefix: `${tag} alp`, pageSize: 1, pageToken }));
    assert.deepEqual(alp.map((x) => x.displayName), [`${tag} alpha`, `${tag} alpine`]);
    const everything = await allPages((pageToken) => ledger.listAccounts({ displayNamePrefix: "", pageSize: 7, pageToken }));
    for (const id of ids) assert.ok(everything.some((x) => x.accountId === id));
    assert.ok(everything.every((x) => !x.accountId.startsWith("funding.")), "funding accounts are not listed");
  });
});

describe("GetAccountBalance as of", () => {
  it("answers the balance at past instants from the running balances", async () => {
    const a = await account();
    const b = await account();
    const beforeAll = new Date(Date.now() - 1_000);
    await deposit(a, 500n);
    const afterDeposit = (await ledger.listAccountEntries({ accountId: a, newestFirst: true, pageSize: 1, pageToken: "" })).items[0]!.createdAt;
    await new Promise((resolve) => setTimeout(resolve, 5)); // distinct timestamps, see above
    await pay(a, b, 200n);
    assert.equal((await ledger.getBalanceAsOf(a, beforeAll)).availableCents, 0n);
    const then = await ledger.getBalanceAsOf(a, afterDeposit);
    assert.equal(then.availableCents, 500n);
    assert.equal(then.entrySequence, 1n);
    assert.equal(then.revision, null, "a past balance has no revision");
    const now = await ledger.getBalanceAsOf(a, new Date(Date.now() + 60_000));
    const current = await ledger.getBalance(a);
    assert.equal(now.availableCents, current.availableCents);
    assert.equal(now.entrySequence, current.entrySequence, "the entry sequence as of now is the current one");
  });

  it("reports the overdraft limit in force at the instant", async () => {
    const a = await account();
    const opened = new Date();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await ledger.updateAccount({ accountId: a, overdraftLimitCents: 500n });
    const firstLimit = new Date();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await ledger.updateAccount({ accountId: a, overdraftLimitCents: 200n });
    const limitAt = async (at: Date) => (await ledger.getBalanceAsOf(a, at)).overdraftLimitCents;
    assert.deepEqual([await limitAt(opened), await limitAt(firstLimit), await limitAt(new Date(Date.now() + 60_000))], [0n, 500n, 200n]);
  });
});

describe("GetPayment by idempotency key", () => {
  it("finds the payment a key authorized, for the client that used it only", async () => {
    const a = await account();
    const b = await account();
    await deposit(a, 100n);
    const payment = await pay(a, b, 10n, "order-77");
    assert.deepEqual(await ledger.getPaymentByIdempotencyKey("order-77", ctx), payment);
    const notFound = (error: unknown) => error instanceof LedgerError && error.code === "PAYMENT_NOT_FOUND" && error.field === "idempotency_key";
    await assert.rejects(ledger.getPaymentByIdempotencyKey("order-77", { clientId: "someone-else" }), notFound);
    await assert.rejects(ledger.getPaymentByIdempotencyKey("never-used", ctx), notFound);
  });
});
