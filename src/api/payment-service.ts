/** Connect handlers of payment.v1.PaymentService: translate messages, call the ledger. */
import type { ServiceImpl } from "@connectrpc/connect";
import { CaptureMethod, type AuthorizePaymentRequest, type PaymentService } from "../../gen/payment/v1/payment_pb.js";
import { invalidArgument } from "../ledger/ledger-error.js";
import type { Ledger } from "../ledger/ledger.js";
import type { AuthorizePaymentCommand } from "../ledger/payments.js";
import { balanceToProto, batchOutcomesToProto, itemErrorToProto, paymentChangeToProto, paymentToProto, refundToProto, statusFromProto } from "./proto-mapping.js";
import { timestampDate } from "./timestamps.js";
import { readConsistencyOf } from "./recent-writes.js";
import { requestContextOf } from "./request-context.js";

export function paymentServiceHandlers(ledger: Ledger): ServiceImpl<typeof PaymentService> {
  return {
    async authorizePayment(request, context) {
      const payment = await ledger.authorizePayment(commandOf(request), requestContextOf(context));
      return { payment: paymentToProto(payment) };
    },

    async authorizePayments(request, context) {
      const outcomes = await ledger.authorizePayments(request.items.map(commandOf), requestContextOf(context), request.atomic);
      return {
        outcomes: outcomes.map((outcome) =>
          "payment" in outcome
            ? { outcome: { case: "payment" as const, value: paymentToProto(outcome.payment) } }
            : { outcome: { case: "error" as const, value: itemErrorToProto(outcome.error) } },
        ),
      };
    },

    async capturePayments(request, context) {
      const outcomes = await ledger.capturePayments(
        request.items.map((item) => ({ idempotencyKey: item.idempotencyKey, paymentId: item.paymentId, amountCents: item.amountCents })),
        requestContextOf(context),
        request.atomic,
      );
      return { outcomes: batchOutcomesToProto(outcomes, "payment" as const, paymentToProto) };
    },

    async refundPayments(request, context) {
      const outcomes = await ledger.refundPayments(
        request.items.map((item) => ({
          idempotencyKey: item.idempotencyKey, paymentId: item.paymentId, amountCents: item.amountCents, reason: item.reason, metadata: item.metadata,
        })),
        requestContextOf(context),
        request.atomic,
      );
      return {
        outcomes: batchOutcomesToProto(outcomes, "refund" as const, (refund) => ({ refund: refundToProto(refund), payment: paymentToProto(refund.payment) })),
      };
    },

    async capturePayment(request, context) {
      const payment = await ledger.capturePayment(
        { idempotencyKey: request.idempotencyKey, paymentId: request.paymentId, amountCents: request.amountCents },
        requestContextOf(context),
      );
      return { payment: paymentToProto(payment) };
    },

    async voidPayment(request, context) {
      const payment = await ledger.voidPayment(
        { idempotencyKey: request.idempotencyKey, paymentId: request.paymentId },
        requestContextOf(context),
      );
      return { payment: paymentToProto(payment) };
    },

    async refundPayment(request, context) {
      const refund = await ledger.refundPayment(
        {
          idempotencyKey: request.idempotencyKey, paymentId: request.paymentId, amountCents: request.amountCents, reason: request.reason,
          metadata: request.metadata,
        },
        requestContextOf(context),
      );
      return { refund: refundToProto(refund), payment: paymentToProto(refund.payment) };
    },

    async getPayment(request, context) {
      if (request.paymentId !== "" && request.idempotencyKey !== "") {
        throw invalidArgument("idempotency_key", "must be empty when payment_id is set (give exactly one)");
      }
      const payment = request.idempotencyKey !== ""
        ? await ledger.getPaymentByIdempotencyKey(request.idempotencyKey, requestContextOf(context))
        : await ledger.getPayment(request.paymentId, requestContextOf(context));
      return { payment: paymentToProto(payment) };
    },

    async getAccountBalance(request, context) {
      const balance = request.asOf
        ? await ledger.getBalanceAsOf(request.accountId, timestampDate("as_of", request.asOf), readConsistencyOf(context), requestContextOf(context))
        : await ledger.getBalance(request.accountId, requestContextOf(context));
      return balanceToProto(balance);
    },

    async *watchPayments(request, context) {
      for await (const change of ledger.watchPayments(request.accountId, request.resumeToken, context.signal, requestContextOf(context))) {
        yield { payment: paymentToProto(change.payment), change: paymentChangeToProto(change.transition), resumeToken: change.resumeToken };
      }
    },

    async listPayments(request, context) {
      const statuses = request.statuses.map((status) => {
        const known = statusFromProto.get(status);
        if (!known) throw invalidArgument("statuses", `${status} is not a payment status`);
        return known;
      });
      const page = await ledger.listPayments(
        {
          accountId: request.accountId,
          statuses,
          createdAfter: request.createdAfter && timestampDate("created_after", request.createdAfter),
          createdBefore: request.createdBefore && timestampDate("created_before", request.createdBefore),
          pageSize: request.pageSize,
          pageToken: request.pageToken,
          metadata: request.metadata,
          minAmountCents: request.minAmountCents,
          maxAmountCents: request.maxAmountCents,
        },
        readConsistencyOf(context),
        requestContextOf(context),
      );
      return { payments: page.items.map(paymentToProto), nextPageToken: page.nextPageToken };
    },

    async updatePayment(request, context) {
      const payment = await ledger.updatePayment(
        { idempotencyKey: request.idempotencyKey, paymentId: request.paymentId, metadata: request.metadata },
        requestContextOf(context),
      );
      return { payment: paymentToProto(payment) };
    },
  };
}

/** The ledger command of one AuthorizePayment message (also each item of AuthorizePayments). */
function commandOf(request: AuthorizePaymentRequest): AuthorizePaymentCommand {
  return {
    idempotencyKey: request.idempotencyKey,
    payerAccountId: request.payerAccountId,
    payeeAccountId: request.payeeAccountId,
    amountCents: request.amountCents,
    currency: request.currency,
    description: request.description,
    captureMethod: request.captureMethod === CaptureMethod.MANUAL ? "MANUAL" : "AUTOMATIC",
    // A fraction stays a fraction: the ledger refuses it (whole seconds) rather than rounding it.
    holdExpiresInSeconds: request.holdExpiresIn ? Number(request.holdExpiresIn.seconds) + request.holdExpiresIn.nanos / 1e9 : undefined,
    metadata: request.metadata,
    ...(request.splits.length > 0 && {
      splits: request.splits.map((leg) => ({
        payeeAccountId: leg.payeeAccountId,
        amountCents: leg.amountCents,
        capturedCents: leg.capturedCents,
        refundedCents: leg.refundedCents,
      })),
    }),
  };
}
