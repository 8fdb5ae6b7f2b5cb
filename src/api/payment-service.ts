/** Connect handlers of payment.v1.PaymentService: translate messages, call the ledger. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { AuthorizePaymentRequest, PaymentService } from "../../gen/payment/v1/payment_pb.js";
import type { Ledger } from "../ledger/ledger.js";
import type { AuthorizePaymentCommand } from "../ledger/payments.js";
import { balanceToProto, itemErrorToProto, paymentToProto } from "./proto-mapping.js";
import { requestContextOf } from "./request-context.js";

export function paymentServiceHandlers(ledger: Ledger): ServiceImpl<typeof PaymentService> {
  return {
    async authorizePayment(request, context) {
      const payment = await ledger.authorizePayment(commandOf(request), requestContextOf(context));
      return { payment: paymentToProto(payment) };
    },

    async authorizePayments(request, context) {
      const outcomes = await ledger.authorizePayments(request.items.map(commandOf), requestContextOf(context));
      return {
        outcomes: outcomes.map((outcome) =>
          "payment" in outcome
            ? { outcome: { case: "payment" as const, value: paymentToProto(outcome.payment) } }
            : { outcome: { case: "error" as const, value: itemErrorToProto(outcome.error) } },
        ),
      };
    },

    async getPayment(request) {
      return { payment: paymentToProto(await ledger.getPayment(request.paymentId)) };
    },

    async getAccountBalance(request) {
      return balanceToProto(await ledger.getBalance(request.accountId));
    },
  };
}

function commandOf(request: AuthorizePaymentRequest): AuthorizePaymentCommand {
  return {
    idempotencyKey: request.idempotencyKey,
    payerAccountId: request.payerAccountId,
    payeeAccountId: request.payeeAccountId,
    amountCents: request.amountCents,
    currency: request.currency,
    description: request.description,
  };
}
