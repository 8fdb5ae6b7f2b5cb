/**
 * Split payments and atomic batches through the real server: Connect JSON as curl sends it, gRPC
 * through the typed client (payment-ledger/client), bad input for every new field.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createLedgerClient, type LedgerClient } from "../../src/client/index.js";
import { CaptureMethod, PaymentStatus } from "../../gen/payment/v1/payment_pb.js";
import { startTestService, type TestService } from "../support/service.js";

let running: TestService;
let client: LedgerClient;
let seq = 0;
const key = () => `api-split-${++seq}`;

before(async () => {
  running = await startTestService();
  client = createLedgerClient({ baseUrl: running.url, protocol: "grpc" });
});
after(() => running.stop());

/** A Connect unary call with a JSON body, as curl makes it: status and parsed answer. */
async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const response = await fetch(`${running.url}/${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

async function account(cents: bigint): Promise<string> {
  const { account: created } = await client.accounts.createAccount({ currency: "USD", displayName: "split" });
  if (cents > 0n) await client.accounts.depositFunds({ idempotencyKey: key(), accountId: created!.accountId, amountCents: cents, currency: "USD" });
  return created!.accountId;
}

describe("split payments over the API", () => {
  it("takes splits as Connect JSON and returns them with each leg's captured and refunded amounts", async () => {
    const [payer, merchant, platform] = [await account(10_000n), await account(0n), await account(0n)];
    const body = {
      idempotencyKey: key(), payerAccountId: payer, amountCents: "10000", currency: "USD", description: "order 7",
      splits: [{ payeeAccountId: merchant, amountCents: "9700" }, { payeeAccountId: platform, amountCents: "300" }],
    };
    const { status, json } = await post("payment.v1.PaymentService/AuthorizePayment", body);
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(json.payment.status, "PAYMENT_STATUS_AUTHORIZED");
    assert.equal(json.payment.payeeAccountId, undefined, "no payee of its own (proto3 JSON leaves empty strings out)");
    assert.deepEqual(json.payment.splits, [
      { payeeAccountId: merchant, amountCents: "9700", capturedCents: "9700" },
      { payeeAccountId: platform, amountCents: "300", capturedCents: "300" },
    ]);
    const { payment } = await client.payments.getPayment({ paymentId: json.payment.paymentId });
    assert.deepEqual(payment?.splits.map((l) => [l.payeeAccountId, l.amountCents, l.capturedCents, l.refundedCents]), [
      [merchant, 9_700n, 9_700n, 0n],
      [platform, 300n, 300n, 0n],
    ]);
    const refund = await client.payments.refundPayment({ idempotencyKey: key(), paymentId: payment!.paymentId, amountCents: 1_001n, reason: "" });
    assert.deepEqual(refund.payment?.splits.map((l) => l.refundedCents), [971n, 30n]);
  });

  it("captures part of a held split over gRPC (typed client), divided by the rule", async () => {
    const [payer, a, b, c] = [await account(1_000n), await account(0n), await account(0n), await account(0n)];
    const { payment } = await client.payments.authorizePayment({
      payerAccountId: payer, amountCents: 100n, currency: "USD", captureMethod: CaptureMethod.MANUAL,
      splits: [{ payeeAccountId: a, amountCents: 50n }, { payeeAccountId: b, amountCents: 25n }, { payeeAccountId: c, amountCents: 25n }],
    });
    assert.equal(payment?.status, PaymentStatus.REQUIRES_CAPTURE);
    const captured = await client.payments.capturePayment({ paymentId: payment!.paymentId, amountCents: 7n });
    // 3.5, 1.75, 1.75 -> 3 + 1 + 1 = 5; the two cents left go to 0.75, 0.75 before 0.5.
    assert.deepEqual(captured.payment?.splits.map((l) => l.capturedCents), [3n, 2n, 2n]);
    const balances = await Promise.all([a, b, c].map((id) => client.payments.getAccountBalance({ accountId: id })));
    assert.deepEqual(balances.map((x) => x.availableBalanceCents), [3n, 2n, 2n]);
  });

  it("refuses bad input for every new field with invalid_argument and the field, writing nothing", async () => {
    const [payer, a] = [await account(100n), await account(0n)];
    const base = { idempotencyKey: key(), payerAccountId: payer, amountCents: "10", currency: "USD" };
    const cases: [unknown, string, string][] = [
      [{ ...base, payeeAccountId: a, splits: [{ payeeAccountId: a, amountCents: "10" }] }, "INVALID_ARGUMENT", "payee_account_id"],
      [{ ...base, splits: [{ payeeAccountId: a, amountCents: "4" }] }, "INVALID_ARGUMENT", "splits"],
      [{ ...base, splits: [{ payeeAccountId: "", amountCents: "10" }] }, "INVALID_ARGUMENT", "splits[0].payee_account_id"],
      [{ ...base, splits: [{ payeeAccountId: a, amountCents: "-10" }] }, "INVALID_ARGUMENT", "splits[0].amount_cents"],
      [{ ...base, splits: [{ payeeAccountId: payer, amountCents: "10" }] }, "INVALID_ARGUMENT", "splits[0].payee_account_id"],
      [{ ...base, splits: [{ payeeAccountId: a, amountCents: "10", capturedCents: "10" }] }, "INVALID_ARGUMENT", "splits[0].captured_cents"],
      [{ ...base, splits: [{ payeeAccountId: a, amountCents: "10", refundedCents: "1" }] }, "INVALID_ARGUMENT", "splits[0].refunded_cents"],
      [{ ...base, splits: [{ payeeAccountId: a, amountCents: "ten" }] }, "MALFORMED_REQUEST", ""],
      [{ ...base, splits: { payeeAccountId: a } }, "MALFORMED_REQUEST", ""],
    ];
    for (const [body, code, field] of cases) {
      const { status, json } = await post("payment.v1.PaymentService/AuthorizePayment", body);
      assert.equal(status, 400, JSON.stringify(json));
      assert.equal(json.code, "invalid_argument");
      const detail = json.details?.[0]?.debug as { code: string; field?: string } | undefined;
      assert.equal(detail?.code, code, JSON.stringify(json));
      if (field) {
        assert.equal(detail?.field, field);
        assert.ok(String(json.message).startsWith(`${field}:`), json.message);
      }
    }
    const bad = await post("payment.v1.PaymentService/AuthorizePayments", { atomic: "yes", items: [{ ...base, payeeAccountId: a }] });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.details?.[0]?.debug?.code, "MALFORMED_REQUEST");
    assert.equal((await client.payments.getAccountBalance({ accountId: payer })).availableBalanceCents, 100n);
  });
});

describe("atomic batches over the API", () => {
  it("answer ABORTED (status aborted) for every item but the failing one, over Connect JSON, and replay the same", async () => {
    const [payer, payee] = [await account(100n), await account(0n)];
    const item = (amountCents: string) => ({ idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents, currency: "USD" });
    const body = { atomic: true, items: [item("60"), item("60"), item("10")] };
    const first = await post("payment.v1.PaymentService/AuthorizePayments", body);
    assert.equal(first.status, 200);
    const [x, y, z] = first.json.outcomes;
    const aborted = {
      status: "aborted", code: "ABORTED",
      message: "aborted: items[1] failed (declined: INSUFFICIENT_FUNDS), so no item of this atomic batch was applied",
    };
    assert.deepEqual(x.error, aborted);
    assert.deepEqual(z.error, aborted);
    assert.equal(y.payment.status, "PAYMENT_STATUS_DECLINED");
    assert.equal(y.payment.declineReason, "DECLINE_REASON_INSUFFICIENT_FUNDS");
    assert.deepEqual((await post("payment.v1.PaymentService/AuthorizePayments", body)).json, first.json);
    assert.equal((await client.payments.getAccountBalance({ accountId: payee })).availableBalanceCents, 0n);

    // The typed client does not retry an aborted item's key replayed alone: it answers at once.
    await assert.rejects(
      client.payments.authorizePayment({ ...body.items[0]!, amountCents: 60n }),
      (e: Error & { code?: number }) => /items\[1\] failed/.test(e.message),
    );
  });

  it("abort every other item when one cannot become a command (a fractional hold_expires_in)", async () => {
    const [payer, payee] = [await account(100n), await account(0n)];
    const item = { payerAccountId: payer, payeeAccountId: payee, amountCents: 10n, currency: "USD", captureMethod: CaptureMethod.MANUAL };
    const { outcomes } = await client.payments.authorizePayments({
      atomic: true,
      items: [{ ...item, idempotencyKey: key() }, { ...item, idempotencyKey: key(), holdExpiresIn: { seconds: 60n, nanos: 5 } }],
    });
    assert.deepEqual(outcomes.map((o) => (o.outcome.case === "error" ? [o.outcome.value.code, o.outcome.value.field, o.outcome.value.message] : [])), [
      ["ABORTED", "", "aborted: items[1] failed (INVALID_ARGUMENT), so no item of this atomic batch was applied"],
      ["INVALID_ARGUMENT", "hold_expires_in", "hold_expires_in: must be whole seconds"],
    ]);
    assert.equal((await client.payments.getAccountBalance({ accountId: payer })).heldBalanceCents, 0n);
  });

  it("apply all or nothing for payouts (WithdrawFundsBatch) over gRPC", async () => {
    const account1 = await account(100n);
    const { outcomes } = await client.accounts.withdrawFundsBatch({
      atomic: true,
      items: [
        { idempotencyKey: key(), accountId: account1, amountCents: 50n, currency: "USD", reference: "a" },
        { idempotencyKey: key(), accountId: "nobody", amountCents: 50n, currency: "USD", reference: "b" },
      ],
    });
    assert.deepEqual(outcomes.map((o) => (o.outcome.case === "error" ? [o.outcome.value.status, o.outcome.value.code] : "")), [
      ["aborted", "ABORTED"],
      ["not_found", "ACCOUNT_NOT_FOUND"],
    ]);
    assert.equal((await client.payments.getAccountBalance({ accountId: account1 })).availableBalanceCents, 100n);
  });
});
