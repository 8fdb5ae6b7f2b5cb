/** What the ledger returns: plain records with bigint money and Date times, no transport types. */

export interface AccountRecord {
  accountId: string;
  currency: string;
  displayName: string;
  createdAt: Date;
}

export type PaymentStatus = "AUTHORIZED" | "DECLINED" | "REQUIRES_CAPTURE" | "CAPTURED" | "VOIDED" | "EXPIRED";
export type DeclineReason = "INSUFFICIENT_FUNDS" | "CURRENCY_MISMATCH" | "BALANCE_LIMIT_EXCEEDED";
export type CaptureMethod = "AUTOMATIC" | "MANUAL";

export interface PaymentRecord {
  paymentId: string;
  status: PaymentStatus;
  /** Set when, and only when, the payment was declined. */
  declineReason: DeclineReason | null;
  payerAccountId: string;
  payeeAccountId: string;
  amountCents: bigint;
  currency: string;
  description: string;
  createdAt: Date;
  /** Absent in results stored before the lifecycle existed (then AUTOMATIC, nothing held). */
  captureMethod?: CaptureMethod;
  /** What the open hold still holds. */
  heldCents?: bigint;
  /** What reached the payee. */
  capturedCents?: bigint;
  refundedCents?: bigint;
  holdExpiresAt?: Date | null;
}

export interface RefundRecord {
  refundId: string;
  paymentId: string;
  amountCents: bigint;
  reason: string;
  status: "REFUNDED" | "DECLINED";
  declineReason: DeclineReason | null;
  createdAt: Date;
  /** The payment right after the refund. */
  payment: PaymentRecord;
}

export interface WithdrawalRecord {
  withdrawalId: string;
  accountId: string;
  amountCents: bigint;
  currency: string;
  reference: string;
  status: "WITHDRAWN" | "DECLINED";
  declineReason: DeclineReason | null;
  createdAt: Date;
  /** The account's available balance right after the withdrawal. */
  balanceAfterCents: bigint;
}

export interface DepositRecord {
  depositId: string;
  accountId: string;
  amountCents: bigint;
  currency: string;
  createdAt: Date;
  /** The account's available balance right after the deposit. */
  balanceAfterCents: bigint;
}

export interface BalanceRecord {
  accountId: string;
  currency: string;
  /** ledgerCents - heldCents: what the account can spend (plus its overdraft limit). */
  availableCents: bigint;
  /** Open holds. */
  heldCents: bigint;
  /** Posted: the sum of the account's entries. */
  ledgerCents: bigint;
  overdraftLimitCents: bigint;
  version: bigint;
  updatedAt: Date;
}

/** Who is asking, and what travels with the request into events. */
export interface RequestContext {
  /** Authenticated client; idempotency keys are scoped to it. */
  clientId: string;
  /** W3C traceparent of the incoming request, copied to the events it causes. */
  traceparent?: string;
  /** Aborted when the caller's deadline passes or it goes away. */
  signal?: AbortSignal;
}
