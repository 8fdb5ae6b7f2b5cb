/** Converts ledger records into the protobuf messages of the contract. */
import { create } from "@bufbuild/protobuf";
import { DEFAULT_TENANT } from "../db/schema.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  AccountEntrySchema,
  AccountSchema,
  AccountStatus,
  DepositSchema,
  EntryCauseKind,
  StatementLineKind,
  WithdrawalSchema,
  WithdrawalStatus,
  type Account,
  type AccountEntry,
  type Deposit,
  type Withdrawal,
} from "../../gen/payment/v1/account_pb.js";
import {
  CaptureMethod,
  DeclineReason,
  RefundSchema,
  RefundStatus,
  type Refund,
  PaymentSchema,
  PaymentStatus,
  type GetAccountBalanceResponse,
  GetAccountBalanceResponseSchema,
  type ItemError,
  ItemErrorSchema,
  type Payment,
  type PaymentChange,
  PaymentChangeKind,
  PaymentChangeSchema,
} from "../../gen/payment/v1/payment_pb.js";
import type { EntryCauseKind as EntryCause, EntryRecord, PaymentTransition } from "../ledger/history.js";
import type { CommandOutcome } from "../ledger/commands.js";
import type { LedgerError } from "../ledger/ledger-error.js";
import { ledgerErrorStatus } from "./error-mapping.js";
import type {
  AccountRecord,
  BalanceRecord,
  DepositRecord,
  PaymentRecord,
  RefundRecord,
  WithdrawalRecord,
} from "../ledger/records.js";

const statusToProto: Record<PaymentRecord["status"], PaymentStatus> = {
  AUTHORIZED: PaymentStatus.AUTHORIZED,
  DECLINED: PaymentStatus.DECLINED,
  REQUIRES_CAPTURE: PaymentStatus.REQUIRES_CAPTURE,
  CAPTURED: PaymentStatus.CAPTURED,
  VOIDED: PaymentStatus.VOIDED,
  EXPIRED: PaymentStatus.EXPIRED,
};

const declineReasonToProto: Record<NonNullable<PaymentRecord["declineReason"]>, DeclineReason> = {
  INSUFFICIENT_FUNDS: DeclineReason.INSUFFICIENT_FUNDS,
  CURRENCY_MISMATCH: DeclineReason.CURRENCY_MISMATCH,
  BALANCE_LIMIT_EXCEEDED: DeclineReason.BALANCE_LIMIT_EXCEEDED,
};

export function accountToProto(account: AccountRecord): Account {
  return create(AccountSchema, {
    accountId: account.accountId,
    // Results stored before tenants existed have none: those accounts are the default tenant's.
    tenantId: account.tenantId ?? DEFAULT_TENANT,
    currency: account.currency,
    displayName: account.displayName,
    createdAt: timestampFromDate(account.createdAt),
    metadata: account.metadata,
    status: accountStatusToProto[account.status],
    closedAt: account.closedAt ? timestampFromDate(account.closedAt) : undefined,
  });
}

const accountStatusToProto: Record<AccountRecord["status"], AccountStatus> = { OPEN: AccountStatus.OPEN, CLOSED: AccountStatus.CLOSED };

/** Proto account statuses to ledger statuses, for list filters. */
export const accountStatusFromProto = new Map<AccountStatus, AccountRecord["status"]>(
  Object.entries(accountStatusToProto).map(([status, proto]) => [proto, status as AccountRecord["status"]]),
);

export function depositToProto(deposit: DepositRecord): Deposit {
  return create(DepositSchema, {
    depositId: deposit.depositId,
    accountId: deposit.accountId,
    amountCents: deposit.amountCents,
    currency: deposit.currency,
    createdAt: timestampFromDate(deposit.createdAt),
    metadata: deposit.metadata ?? {},
  });
}

export function paymentToProto(payment: PaymentRecord): Payment {
  return create(PaymentSchema, {
    paymentId: payment.paymentId,
    payerAccountId: payment.payerAccountId,
    payeeAccountId: payment.payeeAccountId,
    amountCents: payment.amountCents,
    currency: payment.currency,
    description: payment.description,
    status: statusToProto[payment.status],
    declineReason: payment.declineReason ? declineReasonToProto[payment.declineReason] : DeclineReason.UNSPECIFIED,
    createdAt: timestampFromDate(payment.createdAt),
    captureMethod: payment.captureMethod ? captureMethodToProto[payment.captureMethod] : CaptureMethod.UNSPECIFIED,
    heldCents: payment.heldCents ?? 0n,
    // Results stored before the lifecycle: an authorized payment moved its whole amount.
    capturedCents: payment.capturedCents ?? (payment.status === "AUTHORIZED" ? payment.amountCents : 0n),
    refundedCents: payment.refundedCents ?? 0n,
    holdExpiresAt: payment.holdExpiresAt ? timestampFromDate(payment.holdExpiresAt) : undefined,
    metadata: payment.metadata ?? {},
    splits: (payment.splits ?? []).map((leg) => ({
      payeeAccountId: leg.payeeAccountId,
      amountCents: leg.amountCents,
      capturedCents: leg.capturedCents,
      refundedCents: leg.refundedCents,
    })),
  });
}

const captureMethodToProto: Record<NonNullable<PaymentRecord["captureMethod"]>, CaptureMethod> = {
  AUTOMATIC: CaptureMethod.AUTOMATIC,
  MANUAL: CaptureMethod.MANUAL,
};

export function refundToProto(refund: RefundRecord): Refund {
  return create(RefundSchema, {
    refundId: refund.refundId,
    paymentId: refund.paymentId,
    amountCents: refund.amountCents,
    reason: refund.reason,
    status: refund.status === "REFUNDED" ? RefundStatus.REFUNDED : RefundStatus.DECLINED,
    declineReason: refund.declineReason ? declineReasonToProto[refund.declineReason] : DeclineReason.UNSPECIFIED,
    createdAt: timestampFromDate(refund.createdAt),
    metadata: refund.metadata ?? {},
  });
}

export function withdrawalToProto(withdrawal: WithdrawalRecord): Withdrawal {
  return create(WithdrawalSchema, {
    withdrawalId: withdrawal.withdrawalId,
    accountId: withdrawal.accountId,
    amountCents: withdrawal.amountCents,
    currency: withdrawal.currency,
    reference: withdrawal.reference,
    status: withdrawal.status === "WITHDRAWN" ? WithdrawalStatus.WITHDRAWN : WithdrawalStatus.DECLINED,
    declineReason: withdrawal.declineReason ?? "",
    declineReasonCode: withdrawal.declineReason ? declineReasonToProto[withdrawal.declineReason] : DeclineReason.UNSPECIFIED,
    createdAt: timestampFromDate(withdrawal.createdAt),
    metadata: withdrawal.metadata ?? {},
  });
}

export function balanceToProto(balance: BalanceRecord): GetAccountBalanceResponse {
  return create(GetAccountBalanceResponseSchema, {
    accountId: balance.accountId,
    currency: balance.currency,
    availableBalanceCents: balance.availableCents,
    heldBalanceCents: balance.heldCents,
    ledgerBalanceCents: balance.ledgerCents,
    overdraftLimitCents: balance.overdraftLimitCents,
    entrySequence: balance.entrySequence,
    revision: balance.revision ?? 0n,
    // Deprecated field, its old meaning: the revision now, the entry sequence as of an instant.
    version: balance.revision ?? balance.entrySequence,
    updatedAt: timestampFromDate(balance.updatedAt),
  });
}

/** Proto statuses to ledger statuses, for list filters. */
export const statusFromProto = new Map<PaymentStatus, PaymentRecord["status"]>(
  Object.entries(statusToProto).map(([status, proto]) => [proto, status as PaymentRecord["status"]]),
);

const causeKindToProto: Record<EntryCause, EntryCauseKind> = {
  PAYMENT: EntryCauseKind.PAYMENT,
  CAPTURE: EntryCauseKind.CAPTURE,
  DEPOSIT: EntryCauseKind.DEPOSIT,
  REFUND: EntryCauseKind.REFUND,
  WITHDRAWAL: EntryCauseKind.WITHDRAWAL,
};

const lineKindToProto: Record<EntryRecord["kind"], StatementLineKind> = {
  ENTRY: StatementLineKind.ENTRY,
  HELD: StatementLineKind.HELD,
  RELEASED: StatementLineKind.RELEASED,
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
    kind: lineKindToProto[entry.kind],
    availableBeforeCents: entry.availableBeforeCents,
    availableAfterCents: entry.availableAfterCents,
    lineSequence: entry.lineSequence,
  });
}

const changeKindToProto: Record<PaymentTransition["status"], PaymentChangeKind> = {
  AUTHORIZED: PaymentChangeKind.AUTHORIZED,
  DECLINED: PaymentChangeKind.DECLINED,
  REQUIRES_CAPTURE: PaymentChangeKind.REQUIRES_CAPTURE,
  CAPTURED: PaymentChangeKind.CAPTURED,
  VOIDED: PaymentChangeKind.VOIDED,
  EXPIRED: PaymentChangeKind.EXPIRED,
  REFUNDED: PaymentChangeKind.REFUNDED,
};

/** One step of a payment, as WatchPayments reports it. */
export function paymentChangeToProto(transition: Omit<PaymentTransition, "payment">): PaymentChange {
  return create(PaymentChangeSchema, {
    kind: changeKindToProto[transition.status],
    amountCents: transition.amountCents,
    createdAt: timestampFromDate(transition.createdAt),
  });
}

/**
 * The outcomes of a batch call in the `oneof outcome` shape of its response: an item's record under
 * the case `success` (converted by `toProto`), or the ItemError it alone failed with.
 */
export function batchOutcomesToProto<T, C extends string, V>(outcomes: readonly CommandOutcome<T>[], success: C, toProto: (value: T) => V) {
  return outcomes.map((o) => ({
    outcome: "error" in o ? { case: "error" as const, value: itemErrorToProto(o.error) } : { case: success, value: toProto(o.value) },
  }));
}

/** The error of one batch item, as the single request would have reported it. */
export function itemErrorToProto(error: LedgerError): ItemError {
  return create(ItemErrorSchema, { status: ledgerErrorStatus(error), code: error.code, field: error.field ?? "", message: error.message });
}
