/** The table of what account tokens may call is total, and the ids a request names are all found. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { WithdrawFundsBatchRequestSchema } from "../../gen/payment/v1/account_pb.js";
import { AuthorizePaymentRequestSchema, CapturePaymentsRequestSchema } from "../../gen/payment/v1/payment_pb.js";
import { API_PROCEDURES } from "../../src/api/procedures.js";
import { namedIds, tokenRule } from "../../src/auth/token-boundary.js";

it("every API procedure has a rule for account tokens", () => {
  assert.deepEqual(API_PROCEDURES.filter((procedure) => !tokenRule(procedure)), []);
  assert.equal(tokenRule("payment.v1.AccountService/MintAccountToken"), "refused");
  assert.equal(tokenRule("payment.v1.AccountService/ListAccounts"), "refused");
  assert.equal(tokenRule("payment.v1.PaymentService/GetPayment"), "answer");
});

it("finds every account and payment a request names, in items and split legs too", () => {
  const split = create(AuthorizePaymentRequestSchema, {
    payerAccountId: "alice",
    splits: [{ payeeAccountId: "shop", amountCents: 1n }, { payeeAccountId: "fees", amountCents: 1n }],
  });
  assert.deepEqual([...namedIds(split).accountIds].sort(), ["alice", "fees", "shop"]);
  const payouts = create(WithdrawFundsBatchRequestSchema, { items: [{ accountId: "a" }, { accountId: "b" }] });
  assert.deepEqual([...namedIds(payouts).accountIds], ["a", "b"]);
  const captures = create(CapturePaymentsRequestSchema, { items: [{ paymentId: "p1" }, { paymentId: "p2" }] });
  assert.deepEqual([...namedIds(captures).paymentIds], ["p1", "p2"]);
  assert.deepEqual(namedIds({ accountIds: ["x", ""] }).accountIds, new Set(["x"]));
});
