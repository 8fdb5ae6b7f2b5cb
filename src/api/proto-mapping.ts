/** Converts ledger records into the protobuf messages of the contract. */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AccountSchema, DepositSchema, type Account, type Deposit } from "../../gen/payment/v1/account_pb.js";
import {
  DeclineReason,
  PaymentSchema,
  PaymentStatus,
  type GetAccountBalanceResponse,
  GetAccountBalanceResponseSchema,
  type ItemError,
  ItemErrorSchema,
  type Payment,
} from "../../gen/payment/v1/payment_pb.js";
import type { LedgerError } from "../ledger/ledger-error.js";
import { ledgerErrorStatus } from "./error-mapping.js";
import type { AccountRecord, BalanceRecord, DepositRecord, PaymentRecord } from "../ledger/records.js";

const statusToProto: Record<PaymentRecord["status"], PaymentStatus> = {
  AUTHORIZED: PaymentStatus.AUTHORIZED,
  DECLINED: PaymentStatus.DECLINED,
};

const declineReasonToProto: Record<NonNullable<PaymentRecord["declineReason"]>, DeclineReason> = {
  INSUFFICIENT_FUNDS: DeclineReason.INSUFFICIENT_FUNDS,
  CURRENCY_MISMATCH: DeclineReason.CURRENCY_MISMATCH,
};

export function accountToProto(account: AccountRecord): Account {
  return create(AccountSchema, { ...account, createdAt: timestampFromDate(account.createdAt) });
}

export function depositToProto(deposit: DepositRecord): Deposit {
  return create(DepositSchema, {
    depositId: deposit.depositId,
    accountId: deposit.accountId,
    amountCents: deposit.amountCents,
    currency: deposit.currency,
    createdAt: timestampFromDate(deposit.createdAt),
  });
}

export function paymentToProto(payment: PaymentRecord): Payment {
  return create(PaymentSchema, {
    ...payment,
    status: statusToProto[payment.status],
    declineReason: payment.declineReason ? declineReasonToProto[payment.declineReason] : DeclineReason.UNSPECIFIED,
    createdAt: timestampFromDate(payment.createdAt),
  });
}

export function balanceToProto(balance: BalanceRecord): GetAccountBalanceResponse {
  return create(GetAccountBalanceResponseSchema, {
    accountId: balance.accountId,
    currency: balance.currency,
    availableBalanceCents: balance.availableCents,
    version: balance.version,
    updatedAt: timestampFromDate(balance.updatedAt),
  });
}

/** The error of one batch item, as the single request would have reported it. */
export function itemErrorToProto(error: LedgerError): ItemError {
  return create(ItemErrorSchema, { status: ledgerErrorStatus(error), code: error.code, field: error.field ?? "", message: error.message });
}
