/** Connect handlers of payment.v1.PaymentService: translate messages, call the ledger. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { PaymentService } from "../../gen/payment/v1/payment_pb.js";
import type { Ledger } from "../ledger/ledger.js";
import { balanceToProto, paymentToProto } from "./proto-mapping.js";
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
        },
        requestContextOf(context),
      );
      return { payment: paymentToProto(payment) };
    },

    async getPayment(request) {
      return { payment: paymentToProto(await ledger.getPayment(request.paymentId)) };
    },

    async getAccountBalance(request) {
      return balanceToProto(await ledger.getBalance(request.accountId));
    },
  };
}
