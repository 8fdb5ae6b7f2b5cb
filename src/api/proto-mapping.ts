/** Converts ledger records into the protobuf messages of the contract. */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  AccountEntrySchema,
  AccountSchema,
  DepositSchema,
  EntryCauseKind,
  type Account,
  type AccountEntry,
  type Deposit,
} from "../../gen/payment/v1/account_pb.js";
import {
  DeclineReason,
  PaymentSchema,
  PaymentStatus,
  type GetAccountBalanceResponse,
  GetAccountBalanceResponseSchema,
  type Payment,
} from "../../gen/payment/v1/payment_pb.js";
import type { EntryCauseKind as EntryCause, EntryRecord } from "../ledger/history.js";
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

/** Proto statuses to ledger statuses, for list filters. */
export const statusFromProto = new Map<PaymentStatus, PaymentRecord["status"]>(
  Object.entries(statusToProto).map(([status, proto]) => [proto, status as PaymentRecord["status"]]),
);

const causeKindToProto: Record<EntryCause, EntryCauseKind> = {
  PAYMENT: EntryCauseKind.PAYMENT,
  DEPOSIT: EntryCauseKind.DEPOSIT,
};

export function entryToProto(entry: EntryRecord): AccountEntry {
  return create(AccountEntrySchema, {
    entryId: entry.entryId,
    sequence: entry.sequence,
    amountCents: entry.amountCents,
    currency: entry.currency,
    balanceBeforeCents: entry.balanceBeforeCents,
    balanceAfterCents: entry.balanceAfterCents,
    causeKind: causeKindToProto[entry.causeKind],
    causeId: entry.causeId,
    createdAt: timestampFromDate(entry.createdAt),
    entryHash: entry.entryHash,
  });
}
