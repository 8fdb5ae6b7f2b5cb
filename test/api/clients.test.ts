/**
 * End to end through real clients: every transport the server speaks (Connect JSON over HTTP/1.1,
 * Connect binary over HTTP/2, gRPC, gRPC-Web) against the service on one port.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema } from "../../gen/payment/v1/common_pb.js";
import { DeclineReason, PaymentStatus } from "../../gen/payment/v1/payment_pb.js";
import { jsonClients, ledgerClients, transportFactories } from "../support/clients.js";
import { startTestService, type TestService } from "../support/service.js";

const execFileAsync = promisify(execFile);
let running: TestService;
before(async () => {
  running = await startTestService();
});
after(() => running.stop());

for (const [name, transport] of Object.entries(transportFactories)) {
  describe(`over ${name}`, () => {
    it("creates, funds, pays, and reads back", async () => {
      const { accounts, payments } = ledgerClients(transport(running.url));
      const payer = (await accounts.createAccount({ currency: "USD", displayName: `payer ${name}` })).account!;
      const payee = (await accounts.createAccount({ currency: "USD", displayName: `payee ${name}` })).account!;
      assert.match(payer.accountId, /^[0-9A-HJKMNP-TV-Z]{26}$/);
      const deposit = await accounts.depositFunds({ idempotencyKey: `dep-${name}`, accountId: payer.accountId, amountCents: 10_000n, currency: "USD" });
      assert.equal(deposit.availableBalanceCents, 10_000n);

      const request = { idempotencyKey: `pay-${name}`, payerAccountId: payer.accountId, payeeAccountId: payee.accountId, amountCents: 1_234n, currency: "USD", description: "order 1" };
      const { payment } = await payments.authorizePayment(request);
      assert.equal(payment?.status, PaymentStatus.AUTHORIZED);
      assert.equal(payment?.declineReason, DeclineReason.UNSPECIFIED);
      const replay = await payments.authorizePayment(request);
      assert.deepEqual(replay.payment, payment, "a retry returns the identical response");

      assert.deepEqual((await payments.getPayment({ paymentId: payment!.paymentId })).payment, payment);
      const balance = await payments.getAccountBalance({ accountId: payee.accountId });
      assert.equal(balance.availableBalanceCents, 1_234n);
      assert.equal(balance.version, 1n);
      assert.deepEqual((await accounts.getAccount({ accountId: payer.accountId })).account, payer);

      const declined = await payments.authorizePayment({ ...request, idempotencyKey: `big-${name}`, amountCents: 1_000_000n });
      assert.equal(declined.payment?.status, PaymentStatus.DECLINED);
      assert.equal(declined.payment?.declineReason, DeclineReason.INSUFFICIENT_FUNDS);
    });

    it("returns coded errors naming the field", async () => {
      const { payments } = ledgerClients(transport(running.url));
      const error = await payments
        .authorizePayment({ idempotencyKey: "k", payerAccountId: "a", payeeAccountId: "b", amountCents: 0n, currency: "USD" })
        .then(() => assert.fail("expected an error"), (e: unknown) => ConnectError.from(e));
      assert.equal(error.code, Code.InvalidArgument);
      assert.match(error.rawMessage, /^amount_cents: must be greater than 0/);
      const [detail] = error.findDetails(ErrorDetailSchema);
      assert.deepEqual({ code: detail?.code, field: detail?.field }, { code: "INVALID_ARGUMENT", field: "amount_cents" });
      assert.ok(error.metadata.get("x-request-id"), "errors carry the request id");

      const missing = await payments.getPayment({ paymentId: "01ARZ3NDEKTSV4RRFFQ69G5FAV" }).catch((e: unknown) => ConnectError.from(e));
      assert.equal((missing as ConnectError).code, Code.NotFound);
    });
  });
}

describe("server behaviour", () => {
  it("fails an unexpected error as INTERNAL with a request id and logs it without internals leaking", async () => {
    const { payments } = jsonClients(running.url);
    // Break the database underneath the service for one request: the payments table vanishes.
    await running.database.handle.db.execute("alter table payments rename to payments_gone" as never);
    try {
      const error = await payments.getPayment({ paymentId: "01ARZ3NDEKTSV4RRFFQ69G5FAV" }).catch((e: unknown) => ConnectError.from(e));
      assert.equal((error as ConnectError).code, Code.Internal);
      assert.match((error as ConnectError).rawMessage, /^internal error \(request id \w+\)$/);
      assert.ok(running.logs.some((line) => line.msg === "unexpected failure" && line.requestId));
    } finally {
      await running.database.handle.db.execute("alter table payments_gone rename to payments" as never);
    }
  });

  it("refuses messages over READ_MAX_BYTES", async () => {
    // Over HTTP/1.1: a gRPC client streaming 2 MB into a refused HTTP/2 stream stalls on flow control.
    const { accounts } = jsonClients(running.url);
    const error = await accounts
      .createAccount({ currency: "USD", displayName: "x".repeat(2_000_000) })
      .catch((e: unknown) => ConnectError.from(e));
    assert.equal((error as ConnectError).code, Code.ResourceExhausted);
  });
});

describe("plain curl JSON POSTs", () => {
  const curl = async (procedure: string, body: unknown) => {
    const { stdout } = await execFileAsync("curl", [
      "-sS", "-X", "POST", `${running.url}/payment.v1.${procedure}`,
      "-H", "Content-Type: application/json", "-d", JSON.stringify(body), "-w", "\n%{http_code}",
    ]);
    const [json, status] = stdout.trimEnd().split("\n");
    return { status: Number(status), body: JSON.parse(json!) as Record<string, any> };
  };

  it("runs the README flow with int64 amounts as JSON strings or numbers", async () => {
    const created = await curl("AccountService/CreateAccount", { currency: "EUR", displayName: "Curl Ltd" });
    assert.equal(created.status, 200);
    const accountId = created.body.account.accountId as string;
    const deposit = await curl("AccountService/DepositFunds", { idempotencyKey: "curl-dep", accountId, amountCents: 500, currency: "EUR" });
    assert.equal(deposit.body.availableBalanceCents, "500", "int64 is rendered as a JSON string");
    const balance = await curl("PaymentService/GetAccountBalance", { accountId });
    assert.deepEqual([balance.body.availableBalanceCents, balance.body.currency, balance.body.version], ["500", "EUR", "1"]);
  });

  it("rejects unknown JSON fields with invalid_argument and writes nothing", async () => {
    const response = await curl("AccountService/CreateAccount", { currency: "EUR", displayName: "x", amount: 5 });
    assert.equal(response.status, 400);
    assert.equal(response.body.code, "invalid_argument");
    assert.match(response.body.message, /amount/);
  });

  it("maps ledger errors to Connect codes with the field in the message", async () => {
    const missing = await curl("PaymentService/GetAccountBalance", { accountId: "no-such-account" });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, "not_found");
    assert.match(missing.body.message, /^account_id: account no-such-account does not exist/);
  });
});
