/**
 * PaymentService.AuthorizePayments end to end, through every transport the server speaks: one
 * outcome per item in order, each item failing alone with the error it would get as one request.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema } from "../../gen/payment/v1/common_pb.js";
import { PaymentStatus } from "../../gen/payment/v1/payment_pb.js";
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
