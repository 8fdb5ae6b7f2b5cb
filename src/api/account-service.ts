/** Connect handlers of payment.v1.AccountService: translate messages, call the ledger. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { AccountService } from "../../gen/payment/v1/account_pb.js";
import type { Ledger } from "../ledger/ledger.js";
import { accountToProto, depositToProto, withdrawalToProto } from "./proto-mapping.js";
import { requestContextOf } from "./request-context.js";

export function accountServiceHandlers(ledger: Ledger): ServiceImpl<typeof AccountService> {
  return {
    async createAccount(request, context) {
      const account = await ledger.createAccount(
        {
          currency: request.currency,
          displayName: request.displayName,
          accountId: request.accountId,
          overdraftLimitCents: request.overdraftLimitCents,
        },
        requestContextOf(context),
      );
      return { account: accountToProto(account) };
    },

    async getAccount(request) {
      return { account: accountToProto(await ledger.getAccount(request.accountId)) };
    },

    async depositFunds(request, context) {
      const deposit = await ledger.depositFunds(
        {
          idempotencyKey: request.idempotencyKey,
          accountId: request.accountId,
          amountCents: request.amountCents,
          currency: request.currency,
        },
        requestContextOf(context),
      );
      return { deposit: depositToProto(deposit), availableBalanceCents: deposit.balanceAfterCents };
    },

    async withdrawFunds(request, context) {
      const withdrawal = await ledger.withdrawFunds(
        {
          idempotencyKey: request.idempotencyKey,
          accountId: request.accountId,
          amountCents: request.amountCents,
          currency: request.currency,
          reference: request.reference,
        },
        requestContextOf(context),
      );
      return { withdrawal: withdrawalToProto(withdrawal), balanceAfterCents: withdrawal.balanceAfterCents };
    },

    async updateAccount(request) {
      return ledger.updateAccount({ accountId: request.accountId, overdraftLimitCents: request.overdraftLimitCents });
    },
  };
}
