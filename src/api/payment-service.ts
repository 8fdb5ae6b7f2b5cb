/** Connect handlers of payment.v1.PaymentService: translate messages, call the ledger. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { CaptureMethod, type PaymentService } from "../../gen/payment/v1/payment_pb.js";
import { invalidArgument } from "../ledger/ledger-error.js";
import type { Ledger } from "../ledger/ledger.js";
import { balanceToProto, paymentToProto, refundToProto } from "./proto-mapping.js";
import { requestContextOf } from "./request-context.js";

export function paymentServiceHandlers(ledger: Ledger): ServiceImpl<typeof PaymentService> {
  return {
    async authorizePayment(request, context) {
      const payment = await ledger.authorizePayment(
        {
          idempotencyKey: request.idempotencyKey,
          payerAccountId: request.payerAccountId,
          payeeAccountId: request.payeeAccountId,
          amountCents: request.amountCents,
          currency: request.currency,
          description: request.description,
          captureMethod: request.captureMethod === CaptureMethod.MANUAL ? "MANUAL" : "AUTOMATIC",
          holdExpiresInSeconds: request.holdExpiresIn ? durationSeconds(request.holdExpiresIn) : undefined,
        },
        requestContextOf(context),
      );
      return { payment: paymentToProto(payment) };
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
        { idempotencyKey: request.idempotencyKey, paymentId: request.paymentId, amountCents: request.amountCents, reason: request.reason },
        requestContextOf(context),
      );
      return { refund: refundToProto(refund), payment: paymentToProto(refund.payment) };
    },

    async getPayment(request) {
      return { payment: paymentToProto(await ledger.getPayment(request.paymentId)) };
    },

    async getAccountBalance(request) {
      return balanceToProto(await ledger.getBalance(request.accountId));
    },
  };
}

/** A Duration as whole seconds; fractions are refused rather than rounded. */
function durationSeconds(duration: Duration): number {
  if (duration.nanos !== 0) throw invalidArgument("hold_expires_in", "must be whole seconds");
  return Number(duration.seconds);
}
