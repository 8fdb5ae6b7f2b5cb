/**
 * The batch forms (AuthorizePayments, CapturePayments, RefundPayments, WithdrawFundsBatch) end to
 * end, through every transport the server speaks: one outcome per item in order, each item failing
 * alone with the error it would get as one request.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema } from "../../gen/payment/v1/common_pb.js";
import { WithdrawalStatus } from "../../gen/payment/v1/account_pb.js";
import { CaptureMethod, DeclineReason, PaymentStatus } from "../../gen/payment/v1/payment_pb.js";
import { ledgerClients, transportFactories } from "../support/clients.js";
import { startTestService, type TestService } from "../support/service.js";

let running: TestService;
before(async () => {
  running = await startTestService();
});
after(() => running.stop());

for (const [name, transport] of Object.entries(transportFactories)) {
  describe(`AuthorizePayments over ${name}`, () => {
    it("answers every item in order, a bad item alone", async () => {
      const { accounts, payments } = ledgerClients(transport(running.url));
      const payer = (await accounts.createAccount({ currency: "USD", displayName: `batch payer ${name}` })).account!.accountId;
      const payee = (await accounts.createAccount({ currency: "USD", displayName: `batch payee ${name}` })).account!.accountId;
      await accounts.depositFunds({ idempotencyKey: `dep-${name}`, accountId: payer, amountCents: 1_000n, currency: "USD" });
      const item = (key: string, amountCents = 400n) => ({ idempotencyKey: `${name}-${key}`, payerAccountId: payer, payeeAccountId: payee, amountCents, currency: "USD", description: key });

      const items = [item("a"), item("bad", 0n), { ...item("gone"), payeeAccountId: "01ARZ3NDEKTSV4RRFFQ69G5FAV" }, item("b"), item("c")];
      const { outcomes } = await payments.authorizePayments({ items });
      assert.equal(outcomes.length, items.length);
      const [a, bad, gone, b, c] = outcomes.map((o) => o.outcome);
      assert.equal(a?.case === "payment" && a.value.status, PaymentStatus.AUTHORIZED);
      assert.equal(b?.case === "payment" && b.value.status, PaymentStatus.AUTHORIZED);
      assert.equal(c?.case === "payment" && c.value.status, PaymentStatus.DECLINED, "200 left after a and b");
      assert.deepEqual(bad?.case === "error" && { status: bad.value.status, code: bad.value.code, field: bad.value.field }, {
        status: "invalid_argument",
        code: "INVALID_ARGUMENT",
        field: "amount_cents",
      });
      assert.match(bad?.case === "error" ? bad.value.message : "", /^amount_cents: must be greater than 0/);
      assert.deepEqual(gone?.case === "error" && [gone.value.status, gone.value.code, gone.value.field], ["not_found", "ACCOUNT_NOT_FOUND", "payee_account_id"]);
      assert.equal((await payments.getAccountBalance({ accountId: payee })).availableBalanceCents, 800n);

      // The whole request again: identical payments, no money moved twice; the single call agrees.
      const again = await payments.authorizePayments({ items });
      assert.deepEqual(again.outcomes, outcomes);
      const single = await payments.authorizePayment(item("a"));
      assert.deepEqual(single.payment, a?.value);
      assert.equal((await payments.getAccountBalance({ accountId: payee })).availableBalanceCents, 800n);
    });

    it("captures and refunds in batches, one outcome per item in order", async () => {
      const { accounts, payments } = ledgerClients(transport(running.url));
      const payer = (await accounts.createAccount({ currency: "USD", displayName: `holder ${name}` })).account!.accountId;
      const payee = (await accounts.createAccount({ currency: "USD", displayName: `merchant ${name}` })).account!.accountId;
      await accounts.depositFunds({ idempotencyKey: `dep-lc-${name}`, accountId: payer, amountCents: 1_000n, currency: "USD" });
      const base = { payerAccountId: payer, payeeAccountId: payee, currency: "USD", description: "" };
      const { outcomes: held } = await payments.authorizePayments({
        items: [
          { ...base, idempotencyKey: `${name}-h1`, amountCents: 300n, captureMethod: CaptureMethod.MANUAL },
          { ...base, idempotencyKey: `${name}-h2`, amountCents: 300n, captureMethod: CaptureMethod.MANUAL },
          { ...base, idempotencyKey: `${name}-auto`, amountCents: 100n },
        ],
      });
      const [h1, h2, auto] = held.map((o) => (o.outcome.case === "payment" ? o.outcome.value : assert.fail("authorized")));
      assert.deepEqual([h1!.status, h2!.status, auto!.status], [PaymentStatus.REQUIRES_CAPTURE, PaymentStatus.REQUIRES_CAPTURE, PaymentStatus.AUTHORIZED]);

      const missing = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
      const { outcomes: captured } = await payments.capturePayments({
        items: [
          { idempotencyKey: `${name}-c1`, paymentId: h1!.paymentId, amountCents: 0n },
          { idempotencyKey: `${name}-c2`, paymentId: h2!.paymentId, amountCents: 100n },
          { idempotencyKey: `${name}-c3`, paymentId: missing, amountCents: 0n },
          { idempotencyKey: `${name}-c1`, paymentId: h1!.paymentId, amountCents: 0n },
        ],
      });
      const summary = captured.map((o) => (o.outcome.case === "payment" ? PaymentStatus[o.outcome.value.status] : o.outcome.value?.code));
      assert.deepEqual(summary, ["CAPTURED", "CAPTURED", "PAYMENT_NOT_FOUND", "CAPTURED"]);
      assert.deepEqual(captured[3], captured[0], "a repeated key replays the first capture");

      const { outcomes: refunded } = await payments.refundPayments({
        items: [
          { idempotencyKey: `${name}-r1`, paymentId: auto!.paymentId, amountCents: 40n, reason: "one" },
          { idempotencyKey: `${name}-r2`, paymentId: missing, amountCents: 40n, reason: "two" },
        ],
      });
      assert.equal(refunded[0]?.outcome.case, "refund");
      assert.equal(refunded[0]?.outcome.case === "refund" && refunded[0].outcome.value.payment?.refundedCents, 40n);
      assert.deepEqual(refunded[1]?.outcome.case === "error" && [refunded[1].outcome.value.status, refunded[1].outcome.value.code], ["not_found", "PAYMENT_NOT_FOUND"]);
      // 300 + 100 captured, 100 paid, 40 refunded.
      assert.equal((await payments.getAccountBalance({ accountId: payee })).availableBalanceCents, 460n);
    });

    it("pays out in batches: accepted, declined, invalid, replayed and reused keys, each alone", async () => {
      const { accounts } = ledgerClients(transport(running.url));
      const owner = (await accounts.createAccount({ currency: "USD", displayName: `payout owner ${name}` })).account!.accountId;
      await accounts.depositFunds({ idempotencyKey: `dep-wd-${name}`, accountId: owner, amountCents: 1_000n, currency: "USD" });
      const item = (key: string, amountCents: bigint, change: object = {}) =>
        ({ idempotencyKey: `${name}-wd-${key}`, accountId: owner, amountCents, currency: "USD", reference: key, ...change });
      const items = [
        item("a", 600n),
        item("too-much", 500n), // 400 left: declined, recorded
        item("bad", 0n),
        item("eur", 10n, { currency: "EUR" }),
        item("a", 600n), // the same key earlier in this batch: its replay
        item("b", 400n),
      ];
      const { outcomes } = await accounts.withdrawFundsBatch({ items });
      const summary = outcomes.map((o) =>
        o.outcome.case === "withdrawal" ? [WithdrawalStatus[o.outcome.value.withdrawal!.status], o.outcome.value.balanceAfterCents] : [o.outcome.value?.code, o.outcome.value?.field]);
      assert.deepEqual(summary, [
        ["WITHDRAWN", 400n], ["DECLINED", 400n], ["INVALID_ARGUMENT", "amount_cents"], ["CURRENCY_MISMATCH", "currency"], ["WITHDRAWN", 400n], ["WITHDRAWN", 0n],
      ]);
      assert.deepEqual(outcomes[4], outcomes[0], "a repeated key replays the first payout");
      const declined = outcomes[1]!.outcome;
      assert.equal(declined.case === "withdrawal" && declined.value.withdrawal?.declineReasonCode, DeclineReason.INSUFFICIENT_FUNDS);

      // The whole request again: every item answers as before, no money moves twice.
      const again = await accounts.withdrawFundsBatch({ items: items.filter((i) => i.amountCents !== 0n) });
      assert.deepEqual(again.outcomes.map((o) => o.outcome.case === "withdrawal" && o.outcome.value.withdrawal!.withdrawalId).filter(Boolean),
        outcomes.map((o) => o.outcome.case === "withdrawal" && o.outcome.value.withdrawal!.withdrawalId).filter(Boolean));
      // A key reused for another request fails alone.
      const reused = await accounts.withdrawFundsBatch({ items: [item("b", 1n), item("c", 1n)] });
      assert.deepEqual(reused.outcomes.map((o) => (o.outcome.case === "error" ? o.outcome.value.code : o.outcome.case)), ["IDEMPOTENCY_KEY_REUSED", "withdrawal"]);
      const single = await accounts.withdrawFunds(item("a", 600n));
      assert.equal(single.withdrawal?.withdrawalId, outcomes[0]!.outcome.case === "withdrawal" && outcomes[0]!.outcome.value.withdrawal!.withdrawalId, "the single call replays it too");
    });

    it("refuses more than 1,000 payouts as a whole", async () => {
      const { accounts } = ledgerClients(transport(running.url));
      const items = Array.from({ length: 1_001 }, (_, i) => ({ idempotencyKey: `many-wd-${i}`, accountId: "x", amountCents: 1n, currency: "USD", reference: "" }));
      const error = await accounts.withdrawFundsBatch({ items }).then(
        () => assert.fail("expected an error"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(error.code, Code.InvalidArgument);
      assert.match(error.rawMessage, /items: must hold at most 1000 withdrawals, got 1001/);
    });

    it("refuses more than 1,000 items as a whole", async () => {
      const { payments } = ledgerClients(transport(running.url));
      const items = Array.from({ length: 1_001 }, (_, i) => ({ idempotencyKey: `many-${i}`, payerAccountId: "x", payeeAccountId: "y", amountCents: 1n, currency: "USD", description: "" }));
      const error = await payments.authorizePayments({ items }).then(
        () => assert.fail("expected an error"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(error.code, Code.InvalidArgument);
      const [detail] = error.findDetails(ErrorDetailSchema);
      assert.deepEqual({ code: detail?.code, field: detail?.field }, { code: "INVALID_ARGUMENT", field: "items" });
    });
  });
}
