/**
 * Closed accounts through the API (Connect JSON over HTTP/1.1): CloseAccount's precondition (nothing
 * available, held or overdrawn) and its idempotency, the closed account refusing every command
 * that would move money into or out of it (ACCOUNT_CLOSED, nothing written) on the per-item and the
 * set path, what stays allowed (reads, voids, metadata), AccountClosed, and a close racing payments
 * into the same account: exactly one of them wins, the ledger's invariants hold.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { AccountStatus } from "../../gen/payment/v1/account_pb.js";
import { ErrorDetailSchema } from "../../gen/payment/v1/common_pb.js";
import { CaptureMethod, PaymentStatus } from "../../gen/payment/v1/payment_pb.js";
import { jsonClients, type LedgerClients } from "../support/clients.js";
import { assertLedgerInvariants, rows } from "../support/invariants.js";
import { startTestService, type TestService } from "../support/service.js";
import { rejectsWith } from "../support/connect-errors.js";


describe("closed accounts", () => {
  let running: TestService;
  let api: LedgerClients;
  let seq = 0;
  const key = (what: string) => `${what}-${++seq}`;

  before(async () => {
    running = await startTestService();
    api = jsonClients(running.url);
  });
  after(() => running.stop());

  const db = () => running.service.database.db;
  async function account(cents = 0n, overdraftLimitCents = 0n): Promise<string> {
    const { account } = await api.accounts.createAccount({ currency: "USD", displayName: "acct", overdraftLimitCents });
    if (cents > 0n) await api.accounts.depositFunds({ idempotencyKey: key("dep"), accountId: account!.accountId, amountCents: cents, currency: "USD" });
    return account!.accountId;
  }
  const close = (accountId: string, idempotencyKey = key("close")) => api.accounts.closeAccount({ accountId, idempotencyKey });
  /** Rows of every table a money command writes (a refusal writes none). */
  async function written(): Promise<string> {
    const [row] = await rows(db(), sql`select (select count(*) from payments) || '/' || (select count(*) from ledger_entries) || '/' ||
      (select count(*) from hold_movements) || '/' || (select count(*) from outbox) || '/' || (select count(*) from deposits) || '/' ||
      (select count(*) from withdrawals) || '/' || (select count(*) from refunds) || '/' || (select count(*) from idempotency_keys) as n`);
    return String(row!.n);
  }

  it("closes an empty account once: CLOSED with closed_at, replays and repeats answer the same, AccountClosed, still readable and listed", async () => {
    const id = await account();
    const first = (await close(id, "close-once")).account!;
    assert.equal(first.status, AccountStatus.CLOSED);
    assert.ok(first.closedAt, "closed_at set");
    assert.deepEqual((await close(id, "close-once")).account, first, "a replay of the key answers the same account");
    assert.deepEqual((await close(id)).account, first, "closing a closed account answers it unchanged");
    assert.deepEqual((await api.accounts.getAccount({ accountId: id })).account, first);
    const open = (await api.accounts.getAccount({ accountId: await account() })).account!;
    assert.equal(open.status, AccountStatus.OPEN);
    assert.equal(open.closedAt, undefined);

    const closed = await api.accounts.listAccounts({ statuses: [AccountStatus.CLOSED], pageSize: 500 });
    assert.ok(closed.accounts.some((a) => a.accountId === id && a.status === AccountStatus.CLOSED));
    assert.ok(closed.accounts.every((a) => a.status === AccountStatus.CLOSED));
    const opened = await api.accounts.listAccounts({ statuses: [AccountStatus.OPEN], pageSize: 500 });
    assert.ok(!opened.accounts.some((a) => a.accountId === id));

    const events = await rows(db(), sql`select envelope from outbox where event_type = 'AccountClosed' and aggregate_id = ${id}`);
    assert.equal(events.length, 1, "one AccountClosed however often it is closed");
    const payload = (events[0]!.envelope as { payload: Record<string, unknown> }).payload;
    assert.equal(payload.accountId, id);
    assert.equal(payload.currency, "USD");
    assert.equal(await rejectsWith(close(id, "close-once").then(() => api.accounts.closeAccount({ accountId: "other", idempotencyKey: "close-once" })),
      Code.AlreadyExists, "IDEMPOTENCY_KEY_REUSED").then((e) => e.findDetails(ErrorDetailSchema)[0]?.field), "idempotency_key");
  });

  it("refuses to close an account with money available, held or overdrawn, saying which, and writes nothing", async () => {
    const funded = await account(500n);
    const before = await written();
    assert.match((await rejectsWith(close(funded), Code.FailedPrecondition, "ACCOUNT_NOT_EMPTY")).message, /has 500 available/);

    const payer = await account(300n);
    const payee = await account();
    await api.payments.authorizePayment({
      idempotencyKey: key("hold"), payerAccountId: payer, payeeAccountId: payee, amountCents: 300n, currency: "USD", captureMethod: CaptureMethod.MANUAL,
    });
    assert.match((await rejectsWith(close(payer), Code.FailedPrecondition, "ACCOUNT_NOT_EMPTY")).message, /300 held/);

    const overdrawn = await account(0n, 1_000n);
    await api.accounts.withdrawFunds({ idempotencyKey: key("w"), accountId: overdrawn, amountCents: 200n, currency: "USD" });
    assert.match((await rejectsWith(close(overdrawn), Code.FailedPrecondition, "ACCOUNT_NOT_EMPTY")).message, /uses 200 of its overdraft/);
    assert.notEqual(before, await written(), "the hold and the payout were written");
    const after = await written();
    await rejectsWith(close(funded), Code.FailedPrecondition, "ACCOUNT_NOT_EMPTY");
    assert.equal(await written(), after, "a refused close writes nothing (its key is given back)");
    await rejectsWith(close("no-such-account"), Code.NotFound, "ACCOUNT_NOT_FOUND");
    assert.equal((await rejectsWith(api.accounts.closeAccount({ accountId: funded }), Code.InvalidArgument, "INVALID_ARGUMENT"))
      .findDetails(ErrorDetailSchema)[0]?.field, "idempotency_key");
    assert.equal((await rejectsWith(close("bad id!"), Code.InvalidArgument, "INVALID_ARGUMENT")).findDetails(ErrorDetailSchema)[0]?.field, "account_id");
    await rejectsWith(close("funding.USD"), Code.InvalidArgument, "INVALID_ARGUMENT");
  });

  it("refuses every money command touching a closed account with ACCOUNT_CLOSED and writes nothing; voids, reads and metadata stay allowed", async () => {
    const payer = await account(10_000n);
    const closed = await account();

    // Opened before the close: a hold paying the account, and a payment from the account that it
    // then paid back out, to be refunded after.
    const held = (await api.payments.authorizePayment({
      idempotencyKey: key("hold"), payerAccountId: payer, payeeAccountId: closed, amountCents: 700n, currency: "USD", captureMethod: CaptureMethod.MANUAL,
    })).payment!;
    const heldToo = (await api.payments.authorizePayment({
      idempotencyKey: key("hold"), payerAccountId: payer, payeeAccountId: closed, amountCents: 100n, currency: "USD", captureMethod: CaptureMethod.MANUAL,
    })).payment!;
    const received = (await api.payments.authorizePayment({
      idempotencyKey: key("pay"), payerAccountId: payer, payeeAccountId: closed, amountCents: 400n, currency: "USD",
    })).payment!;
    const sent = (await api.payments.authorizePayment({
      idempotencyKey: key("pay"), payerAccountId: closed, payeeAccountId: payer, amountCents: 150n, currency: "USD",
    })).payment!;
    await api.accounts.withdrawFunds({ idempotencyKey: key("w"), accountId: closed, amountCents: 250n, currency: "USD" });
    await close(closed);

    const before = await written();
    const closedVersion = (await api.payments.getAccountBalance({ accountId: closed })).version;
    const refused = async (call: Promise<unknown>, field: string) => {
      const error = await rejectsWith(call, Code.FailedPrecondition, "ACCOUNT_CLOSED");
      assert.equal(error.findDetails(ErrorDetailSchema)[0]?.field, field, error.message);
      assert.match(error.message, new RegExp(`account ${closed} was closed at `));
    };
    await refused(api.accounts.depositFunds({ idempotencyKey: key("d"), accountId: closed, amountCents: 1n, currency: "USD" }), "account_id");
    await refused(api.accounts.withdrawFunds({ idempotencyKey: key("w"), accountId: closed, amountCents: 1n, currency: "USD" }), "account_id");
    await refused(api.payments.authorizePayment({ idempotencyKey: key("p"), payerAccountId: closed, payeeAccountId: payer, amountCents: 1n, currency: "USD" }), "payer_account_id");
    await refused(api.payments.authorizePayment({ idempotencyKey: key("p"), payerAccountId: payer, payeeAccountId: closed, amountCents: 1n, currency: "USD" }), "payee_account_id");
    await refused(api.payments.authorizePayment({
      idempotencyKey: key("p"), payerAccountId: payer, payeeAccountId: closed, amountCents: 1n, currency: "USD", captureMethod: CaptureMethod.MANUAL,
    }), "payee_account_id");
    await refused(api.payments.capturePayment({ idempotencyKey: key("c"), paymentId: held.paymentId }), "payment_id");
    await refused(api.payments.refundPayment({ idempotencyKey: key("r"), paymentId: received.paymentId, amountCents: 1n }), "payment_id");
    await refused(api.payments.refundPayment({ idempotencyKey: key("r"), paymentId: sent.paymentId, amountCents: 1n }), "payment_id");
    await refused(api.accounts.updateAccount({ accountId: closed, overdraftLimitCents: 100n }), "account_id");
    assert.equal(await written(), before, "nothing was written by any refused command");
    const payouts = await api.accounts.withdrawFundsBatch({ items: [{ idempotencyKey: key("w"), accountId: closed, amountCents: 1n, currency: "USD" }] });
    assert.equal(payouts.outcomes[0]!.outcome.case === "error" && payouts.outcomes[0]!.outcome.value.code, "ACCOUNT_CLOSED");
    // Ten in one call take the set path (25-ledger-apply-authorizations.sql): each item naming the
    // closed account fails alone, as payer or as payee; the others are authorized.
    const other = await account();
    const before2 = await written();
    const batch = await api.payments.authorizePayments({
      items: Array.from({ length: 10 }, (_, i) => ({
        idempotencyKey: key("b"),
        payerAccountId: i === 4 ? closed : payer,
        payeeAccountId: i === 4 ? payer : i % 3 === 0 ? closed : other,
        amountCents: 1n,
        currency: "USD",
      })),
    });
    const errors = batch.outcomes.flatMap((o, i) => (o.outcome.case === "error" ? [[i, o.outcome.value.code, o.outcome.value.field]] : []));
    assert.deepEqual(errors, [
      [0, "ACCOUNT_CLOSED", "payee_account_id"], [3, "ACCOUNT_CLOSED", "payee_account_id"], [4, "ACCOUNT_CLOSED", "payer_account_id"],
      [6, "ACCOUNT_CLOSED", "payee_account_id"], [9, "ACCOUNT_CLOSED", "payee_account_id"],
    ]);
    assert.equal((await api.payments.getAccountBalance({ accountId: other })).availableBalanceCents, 5n, "the other five were authorized");
    assert.notEqual(await written(), before2);
    assert.equal((await api.payments.getAccountBalance({ accountId: closed })).version, closedVersion, "the closed account's row was not written");

    // Moves none of its money: releasing a hold it was to receive, changing its metadata, reading it.
    const voided = (await api.payments.voidPayment({ idempotencyKey: key("v"), paymentId: heldToo.paymentId })).payment!;
    assert.equal(voided.status, PaymentStatus.VOIDED);
    const updated = await api.accounts.updateAccount({
      accountId: closed, metadata: { closed_by: "support" }, idempotencyKey: key("u"), updateMask: { paths: ["metadata"] },
    });
    assert.deepEqual(updated.account!.metadata, { closed_by: "support" });
    assert.equal(updated.account!.status, AccountStatus.CLOSED);
    const balance = await api.payments.getAccountBalance({ accountId: closed });
    assert.equal(balance.availableBalanceCents, 0n);
    assert.equal(balance.heldBalanceCents, 0n);
    const statement = await api.accounts.listAccountEntries({ accountId: closed, pageSize: 50 });
    assert.ok(statement.entries.length > 0, "its history stays readable");
    await assertLedgerInvariants(db());
  });

  it("refuses a split payment, its capture and its refund when a leg's payee or the payer is closed", async () => {
    const payer = await account(10_000n);
    const shop = await account();
    const fee = await account();
    const split = (payee: string, key2 = key("sp"), manual = false) => api.payments.authorizePayment({
      idempotencyKey: key2, payerAccountId: payer, amountCents: 100n, currency: "USD", captureMethod: manual ? CaptureMethod.MANUAL : CaptureMethod.AUTOMATIC,
      splits: [{ payeeAccountId: shop, amountCents: 97n }, { payeeAccountId: payee, amountCents: 3n }], metadata: { order: "split" },
    });
    const held = (await split(fee, key("sp"), true)).payment!;
    const paid = (await split(fee)).payment!;
    assert.deepEqual(paid.metadata, { order: "split" });
    // The fee account gives its 3 back out and closes; the shop keeps its part.
    await api.accounts.withdrawFunds({ idempotencyKey: key("w"), accountId: fee, amountCents: 3n, currency: "USD" });
    await close(fee);
    const field = async (call: Promise<unknown>) =>
      (await rejectsWith(call, Code.FailedPrecondition, "ACCOUNT_CLOSED")).findDetails(ErrorDetailSchema)[0]?.field;
    assert.equal(await field(split(fee)), "splits[1].payee_account_id");
    assert.equal(await field(api.payments.capturePayment({ idempotencyKey: key("c"), paymentId: held.paymentId })), "payment_id");
    assert.equal(await field(api.payments.refundPayment({ idempotencyKey: key("r"), paymentId: paid.paymentId, amountCents: 50n })), "payment_id");
    assert.equal((await api.payments.voidPayment({ idempotencyKey: key("v"), paymentId: held.paymentId })).payment!.status, PaymentStatus.VOIDED);
    await assertLedgerInvariants(db());
  });

  it("decides a close racing payments into the same account in lock order: exactly one wins, every time", async () => {
    const payer = await account(1_000_000n);
    const targets = await Promise.all(Array.from({ length: 24 }, () => account()));
    const results = await Promise.all(
      targets.map(async (target, i) => {
        const pay = () => api.payments.authorizePayment({ idempotencyKey: key("race"), payerAccountId: payer, payeeAccountId: target, amountCents: 10n, currency: "USD" }).then(ok, fail);
        const shut = () => close(target).then(ok, fail);
        // Every third close is sent and answered first (it must win); the rest race the payment.
        if (i % 3 === 0) {
          const closing = await shut();
          return { closing, payment: await pay() };
        }
        const [payment, closing] = i % 3 === 1 ? await Promise.all([pay(), shut()]) : (await Promise.all([shut(), pay()])).reverse();
        return { payment, closing };
      }),
    );
    let closes = 0;
    for (const { payment, closing } of results) {
      if (closing === "ok") {
        closes += 1;
        assert.equal(payment, "ACCOUNT_CLOSED", "the close won: the payment was refused");
      } else {
        assert.equal(closing, "ACCOUNT_NOT_EMPTY", "the payment won: the close was refused");
        assert.equal(payment, "ok");
      }
    }
    assert.ok(closes >= targets.length / 3, "the closes sent first won");
    await assertLedgerInvariants(db());
  });
});

const ok = () => "ok";
const fail = (error: unknown) => (error instanceof ConnectError ? (error.findDetails(ErrorDetailSchema)[0]?.code ?? error.message) : String(error));
