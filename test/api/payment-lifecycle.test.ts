/**
 * The payment lifecycle through the API (Connect JSON over HTTP/1.1, a real client): every
 * transition, every invalid transition, replays and key reuse, payouts and overdraft limits. The
 * same suite runs against PostgreSQL and against the embedded default (PGlite).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { WithdrawalStatus } from "../../gen/payment/v1/account_pb.js";
import { CaptureMethod, DeclineReason, PaymentStatus, RefundStatus } from "../../gen/payment/v1/payment_pb.js";
import { loadConfig } from "../../src/config/config.js";
import type { Database } from "../../src/db/client.js";
import type { Ledger } from "../../src/ledger/ledger.js";
import { startService, type RunningService } from "../../src/server/service.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { jsonClients, type LedgerClients } from "../support/clients.js";
import { assertLedgerInvariants, rows } from "../support/invariants.js";
import { EDGE_DEFAULTS, startTestService } from "../support/service.js";
import { rejectsWith } from "../support/connect-errors.js";

interface Target {
  url: string;
  db: Database;
  ledger: Ledger;
  stop(): Promise<void>;
}

const backends: Record<string, () => Promise<Target>> = {
  postgresql: async () => {
    const running = await startTestService();
    return { url: running.url, db: running.service.database.db, ledger: running.service.ledger, stop: () => running.stop() };
  },
  pglite: async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "lifecycle-"));
    const config = loadConfig({ PGLITE_DATA_DIR: dataDir, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "warn", ...EDGE_DEFAULTS });
    const service: RunningService = await startService(config, createLogger("warn", new Writable({ write: (_c, _e, done) => done() })));
    return {
      url: service.url,
      db: service.database.db,
      ledger: service.ledger,
      stop: () => service.stop().finally(() => rmSync(dataDir, { recursive: true, force: true })),
    };
  },
};


for (const [backend, start] of Object.entries(backends)) {
  describe(`payment lifecycle on ${backend}`, () => {
    let target: Target;
    let api: LedgerClients;
    let seq = 0;
    const key = (what: string) => `${what}-${++seq}`;

    async function account(cents: bigint, options: { currency?: string; overdraftLimitCents?: bigint } = {}) {
      const currency = options.currency ?? "USD";
      const { account } = await api.accounts.createAccount({ currency, displayName: "acct", overdraftLimitCents: options.overdraftLimitCents ?? 0n });
      if (cents > 0n) await api.accounts.depositFunds({ idempotencyKey: key("dep"), accountId: account!.accountId, amountCents: cents, currency });
      return account!.accountId;
    }
    const balance = (accountId: string) => api.payments.getAccountBalance({ accountId });
    async function hold(payer: string, payee: string, amountCents: bigint) {
      const { payment } = await api.payments.authorizePayment({
        idempotencyKey: key("hold"), payerAccountId: payer, payeeAccountId: payee, amountCents, currency: "USD",
        description: "order", captureMethod: CaptureMethod.MANUAL,
      });
      return payment!;
    }
    /** Rows written anywhere (to prove a refused request wrote nothing). */
    async function writes(): Promise<string> {
      const [row] = await rows(target.db, sql`select (select count(*) from ledger_entries) || '/' || (select count(*) from outbox) || '/' ||
        (select count(*) from payment_transitions) || '/' || (select count(*) from hold_movements) || '/' || (select count(*) from refunds)
        || '/' || (select count(*) from idempotency_keys) as n`);
      return String(row!.n);
    }
    async function eventsOf(paymentId: string) {
      return (await rows(target.db, sql`select event_type from outbox where aggregate_id = ${paymentId} order by id`)).map((r) => r.event_type);
    }

    before(async () => {
      target = await start();
      api = jsonClients(target.url);
    });
    after(() => target.stop());

    it("hold -> partial capture -> partial refunds: balances, records and events at every step", async () => {
      const payer = await account(10_000n);
      const payee = await account(0n);
      const payment = await hold(payer, payee, 3_000n);
      assert.equal(payment.status, PaymentStatus.REQUIRES_CAPTURE);
      assert.equal(payment.captureMethod, CaptureMethod.MANUAL);
      assert.equal(payment.heldCents, 3_000n);
      assert.ok(payment.holdExpiresAt, "a hold has an expiry");
      let b = await balance(payer);
      assert.deepEqual([b.availableBalanceCents, b.heldBalanceCents, b.ledgerBalanceCents], [7_000n, 3_000n, 10_000n]);
      assert.equal((await balance(payee)).availableBalanceCents, 0n, "nothing reaches the payee before capture");

      const capture = { idempotencyKey: key("cap"), paymentId: payment.paymentId, amountCents: 2_000n };
      const captured = (await api.payments.capturePayment(capture)).payment!;
      assert.equal(captured.status, PaymentStatus.CAPTURED);
      assert.deepEqual([captured.capturedCents, captured.heldCents], [2_000n, 0n]);
      b = await balance(payer);
      assert.deepEqual([b.availableBalanceCents, b.heldBalanceCents, b.ledgerBalanceCents], [8_000n, 0n, 8_000n], "the rest is released");
      assert.equal((await balance(payee)).availableBalanceCents, 2_000n);
      assert.deepEqual((await api.payments.capturePayment(capture)).payment, captured, "a replay answers as the first call did");

      const refund = { idempotencyKey: key("ref"), paymentId: payment.paymentId, amountCents: 500n, reason: "damaged" };
      const first = await api.payments.refundPayment(refund);
      assert.equal(first.refund?.status, RefundStatus.REFUNDED);
      assert.equal(first.payment?.refundedCents, 500n);
      assert.deepEqual(await api.payments.refundPayment(refund), first, "a refund replay moves nothing twice");
      const second = await api.payments.refundPayment({ ...refund, idempotencyKey: key("ref"), amountCents: 1_500n });
      assert.equal(second.payment?.refundedCents, 2_000n);
      assert.notEqual(second.refund?.refundId, first.refund?.refundId, "each refund is a record of its own");
      const before = await writes();
      const { message } = await rejectsWith(
        api.payments.refundPayment({ ...refund, idempotencyKey: key("ref"), amountCents: 1n }),
        Code.FailedPrecondition,
        "REFUND_EXCEEDS_CAPTURED",
      );
      assert.match(message, /CAPTURED with 2000 captured and 2000 refunded/);
      assert.equal(await writes(), before, "a refused refund writes nothing");
      assert.equal((await balance(payer)).availableBalanceCents, 10_000n);
      assert.equal((await balance(payee)).availableBalanceCents, 0n);
      assert.deepEqual((await api.payments.getPayment({ paymentId: payment.paymentId })).payment, second.payment);
      assert.deepEqual(await eventsOf(payment.paymentId), ["PaymentAuthorized", "PaymentCaptured", "PaymentRefunded", "PaymentRefunded"]);
      await assertLedgerInvariants(target.db);
    });

    it("void releases the whole hold; every later transition is FAILED_PRECONDITION and writes nothing", async () => {
      const payer = await account(1_000n);
      const payee = await account(0n);
      const payment = await hold(payer, payee, 600n);
      const voidRequest = { idempotencyKey: key("void"), paymentId: payment.paymentId };
      const voided = (await api.payments.voidPayment(voidRequest)).payment!;
      assert.equal(voided.status, PaymentStatus.VOIDED);
      assert.equal((await balance(payer)).availableBalanceCents, 1_000n);
      assert.equal((await balance(payer)).heldBalanceCents, 0n);
      assert.deepEqual((await api.payments.voidPayment(voidRequest)).payment, voided, "replay");

      const otherHold = await hold(payer, payee, 1n);
      const before = await writes();
      const { message } = await rejectsWith(
        api.payments.capturePayment({ idempotencyKey: key("cap"), paymentId: payment.paymentId, amountCents: 0n }),
        Code.FailedPrecondition,
        "INVALID_PAYMENT_STATE",
      );
      assert.match(message, /is VOIDED/);
      await rejectsWith(api.payments.voidPayment({ idempotencyKey: key("void"), paymentId: payment.paymentId }), Code.FailedPrecondition, "INVALID_PAYMENT_STATE");
      await rejectsWith(
        api.payments.refundPayment({ idempotencyKey: key("ref"), paymentId: payment.paymentId, amountCents: 1n, reason: "" }),
        Code.FailedPrecondition,
        "INVALID_PAYMENT_STATE",
      );
      await rejectsWith(
        api.payments.voidPayment({ idempotencyKey: voidRequest.idempotencyKey, paymentId: otherHold.paymentId }),
        Code.AlreadyExists,
        "IDEMPOTENCY_KEY_REUSED",
      );
      assert.equal(await writes(), before, "refused transitions write nothing");
      assert.deepEqual(await eventsOf(payment.paymentId), ["PaymentAuthorized", "PaymentVoided"]);
      await assertLedgerInvariants(target.db);
    });

    it("capture: 0 means the whole hold, more than held is refused, captured payments cannot be captured again", async () => {
      const payer = await account(1_000n);
      const payee = await account(0n);
      const payment = await hold(payer, payee, 400n);
      const { message } = await rejectsWith(
        api.payments.capturePayment({ idempotencyKey: key("cap"), paymentId: payment.paymentId, amountCents: 401n }),
        Code.FailedPrecondition,
        "CAPTURE_EXCEEDS_HOLD",
      );
      assert.match(message, /400 held; 401 cannot be captured/);
      const captured = (await api.payments.capturePayment({ idempotencyKey: key("cap"), paymentId: payment.paymentId, amountCents: 0n })).payment!;
      assert.equal(captured.capturedCents, 400n);
      assert.equal((await balance(payee)).availableBalanceCents, 400n);
      await rejectsWith(
        api.payments.capturePayment({ idempotencyKey: key("cap"), paymentId: payment.paymentId, amountCents: 0n }),
        Code.FailedPrecondition,
        "INVALID_PAYMENT_STATE",
      );
      await rejectsWith(
        api.payments.capturePayment({ idempotencyKey: key("cap"), paymentId: "01ARZ3NDEKTSV4RRFFQ69G5FAV", amountCents: 0n }),
        Code.NotFound,
        "PAYMENT_NOT_FOUND",
      );
      await assertLedgerInvariants(target.db);
    });

    it("a hold cannot take more than available + overdraft; automatic payments refund; declines cannot", async () => {
      const payer = await account(500n);
      const payee = await account(0n);
      const declined = (await api.payments.authorizePayment({
        idempotencyKey: key("hold"), payerAccountId: payer, payeeAccountId: payee, amountCents: 501n, currency: "USD", description: "",
        captureMethod: CaptureMethod.MANUAL,
      })).payment!;
      assert.equal(declined.status, PaymentStatus.DECLINED);
      assert.equal(declined.declineReason, DeclineReason.INSUFFICIENT_FUNDS);
      await rejectsWith(
        api.payments.refundPayment({ idempotencyKey: key("ref"), paymentId: declined.paymentId, amountCents: 1n, reason: "" }),
        Code.FailedPrecondition,
        "INVALID_PAYMENT_STATE",
      );
      await hold(payer, payee, 300n);
      const second = (await api.payments.authorizePayment({
        idempotencyKey: key("pay"), payerAccountId: payer, payeeAccountId: payee, amountCents: 201n, currency: "USD", description: "",
      })).payment!;
      assert.equal(second.declineReason, DeclineReason.INSUFFICIENT_FUNDS, "held money is not available");
      const paid = (await api.payments.authorizePayment({
        idempotencyKey: key("pay"), payerAccountId: payer, payeeAccountId: payee, amountCents: 200n, currency: "USD", description: "",
      })).payment!;
      assert.equal(paid.status, PaymentStatus.AUTHORIZED);
      assert.equal(paid.capturedCents, 200n);
      // The payee spends the money, so it cannot cover a refund: a recorded, declined refund.
      await api.accounts.withdrawFunds({ idempotencyKey: key("wd"), accountId: payee, amountCents: 150n, currency: "USD", reference: "bank" });
      const refused = await api.payments.refundPayment({ idempotencyKey: key("ref"), paymentId: paid.paymentId, amountCents: 100n, reason: "" });
      assert.equal(refused.refund?.status, RefundStatus.DECLINED);
      assert.equal(refused.refund?.declineReason, DeclineReason.INSUFFICIENT_FUNDS);
      assert.equal(refused.payment?.refundedCents, 0n);
      const ok = await api.payments.refundPayment({ idempotencyKey: key("ref"), paymentId: paid.paymentId, amountCents: 50n, reason: "" });
      assert.equal(ok.refund?.status, RefundStatus.REFUNDED);
      assert.equal(ok.payment?.status, PaymentStatus.AUTHORIZED, "a refund does not change the status");
      assert.deepEqual(await eventsOf(paid.paymentId), ["PaymentAuthorized", "PaymentRefundDeclined", "PaymentRefunded"]);
      const [declinedEvent] = await rows(target.db, sql`select envelope->'payload' as payload from outbox where event_type = 'PaymentRefundDeclined' and aggregate_id = ${paid.paymentId}`);
      assert.deepEqual(
        { ...(declinedEvent!.payload as object), refundId: undefined, createdAt: undefined },
        { refundId: undefined, paymentId: paid.paymentId, payerAccountId: payer, payeeAccountId: payee, amountCents: "100", currency: "USD",
          reason: "", declineReason: "INSUFFICIENT_FUNDS", refundedCents: "0", createdAt: undefined, metadata: {} },
      );
      await assertLedgerInvariants(target.db);
    });

    it("hold_expires_in is bounded and manual only; an expired hold is released by the sweeper", async () => {
      const payer = await account(1_000n);
      const payee = await account(0n);
      const base = { payerAccountId: payer, payeeAccountId: payee, amountCents: 100n, currency: "USD", description: "" };
      for (const seconds of [59n, 2_592_001n]) {
        await rejectsWith(
          api.payments.authorizePayment({ ...base, idempotencyKey: key("h"), captureMethod: CaptureMethod.MANUAL, holdExpiresIn: { seconds, nanos: 0 } }),
          Code.InvalidArgument,
          "INVALID_ARGUMENT",
        );
      }
      await rejectsWith(
        api.payments.authorizePayment({ ...base, idempotencyKey: key("h"), holdExpiresIn: { seconds: 3600n, nanos: 0 } }),
        Code.InvalidArgument,
        "INVALID_ARGUMENT",
      );
      const payment = (await api.payments.authorizePayment({
        ...base, idempotencyKey: key("h"), captureMethod: CaptureMethod.MANUAL, holdExpiresIn: { seconds: 60n, nanos: 0 },
      })).payment!;
      const expiresIn = Number(payment.holdExpiresAt!.seconds) * 1000 - Number(payment.createdAt!.seconds) * 1000;
      assert.ok(Math.abs(expiresIn - 60_000) <= 2_000, `expires 60 s after creation (${expiresIn} ms)`);
      assert.equal(await target.ledger.expireDueHolds(), 0, "not due yet");
      // Time travel for the hold's current state only (the payment row itself is immutable history).
      await target.db.execute(sql`update payment_states set hold_expires_at = now() - interval '1 second' where payment_id = ${payment.paymentId}`);
      await rejectsWith(
        api.payments.capturePayment({ idempotencyKey: key("cap"), paymentId: payment.paymentId, amountCents: 0n }),
        Code.FailedPrecondition,
        "INVALID_PAYMENT_STATE",
      );
      assert.equal(await target.ledger.expireDueHolds(), 1);
      assert.equal((await api.payments.getPayment({ paymentId: payment.paymentId })).payment?.status, PaymentStatus.EXPIRED);
      assert.equal((await balance(payer)).availableBalanceCents, 1_000n);
      assert.equal(await target.ledger.expireDueHolds(), 0, "expired once");
      assert.deepEqual(await eventsOf(payment.paymentId), ["PaymentAuthorized", "PaymentExpired"]);
      await assertLedgerInvariants(target.db);
    });

    it("withdrawals pay out to the funding account; overdraft limits are checked on every debit and can be changed", async () => {
      const owner = await account(1_000n, { overdraftLimitCents: 500n });
      const other = await account(0n);
      const out = await api.accounts.withdrawFunds({ idempotencyKey: key("wd"), accountId: owner, amountCents: 1_200n, currency: "USD", reference: "payout 1" });
      assert.equal(out.withdrawal?.status, WithdrawalStatus.WITHDRAWN);
      assert.equal(out.balanceAfterCents, -200n);
      const declined = await api.accounts.withdrawFunds({ idempotencyKey: key("wd"), accountId: owner, amountCents: 301n, currency: "USD", reference: "" });
      assert.equal(declined.withdrawal?.status, WithdrawalStatus.DECLINED);
      assert.equal(declined.withdrawal?.declineReasonCode, DeclineReason.INSUFFICIENT_FUNDS, "the enum payments and refunds use");
      assert.equal(declined.withdrawal?.declineReason, "INSUFFICIENT_FUNDS", "the deprecated string stays for existing clients");
      assert.equal(out.withdrawal?.declineReasonCode, DeclineReason.UNSPECIFIED);
      const [declinedEvent] = await rows(target.db, sql`select envelope->'payload' as payload from outbox
        where event_type = 'FundsWithdrawalDeclined' and aggregate_id = ${owner}`);
      assert.deepEqual(
        [(declinedEvent!.payload as Record<string, string>).withdrawalId, (declinedEvent!.payload as Record<string, string>).balanceAfterCents,
          (declinedEvent!.payload as Record<string, string>).declineReason],
        [declined.withdrawal?.withdrawalId, "-200", "INSUFFICIENT_FUNDS"],
      );
      const pay = await api.payments.authorizePayment({
        idempotencyKey: key("pay"), payerAccountId: owner, payeeAccountId: other, amountCents: 300n, currency: "USD", description: "",
      });
      assert.equal(pay.payment?.status, PaymentStatus.AUTHORIZED, "a payment may use the overdraft");
      assert.equal((await balance(owner)).availableBalanceCents, -500n);
      const { message } = await rejectsWith(
        api.accounts.updateAccount({ accountId: owner, overdraftLimitCents: 499n }),
        Code.FailedPrecondition,
        "OVERDRAFT_LIMIT_TOO_LOW",
      );
      assert.match(message, /-500 available/);
      assert.equal((await api.accounts.updateAccount({ accountId: owner, overdraftLimitCents: 1_000n })).overdraftLimitCents, 1_000n);
      assert.equal((await balance(owner)).overdraftLimitCents, 1_000n);
      await rejectsWith(
        api.accounts.withdrawFunds({ idempotencyKey: key("wd"), accountId: owner, amountCents: 1n, currency: "EUR", reference: "" }),
        Code.FailedPrecondition,
        "CURRENCY_MISMATCH",
      );
      const [withdrawn] = await rows(target.db, sql`select envelope from outbox where event_type = 'FundsWithdrawn' and aggregate_id = ${owner}`);
      assert.equal((withdrawn?.envelope as { payload: { reference: string } }).payload.reference, "payout 1");
      await assertLedgerInvariants(target.db);
    });
  });
}
