/** What the ledger returns: plain records with bigint money and Date times, no transport types. */

export interface AccountRecord {
  accountId: string;
  currency: string;
  displayName: string;
  createdAt: Date;
}

export type PaymentStatus = "AUTHORIZED" | "DECLINED";
export type DeclineReason = "INSUFFICIENT_FUNDS" | "CURRENCY_MISMATCH";

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
  availableCents: bigint;
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
