/** What the ledger returns: plain records with bigint money and Date times, no transport types. */

// The records that cross the boundary to SQL are declared in ledger-core.ts (TypeBox).
export type { AccountRecord, AccountUpdateRecord, DepositRecord, PaymentRecord, RefundRecord, WithdrawalRecord } from "./ledger-core.js";
import type { PaymentRecord } from "./ledger-core.js";

export type PaymentStatus = PaymentRecord["status"];
export type DeclineReason = NonNullable<PaymentRecord["declineReason"]>;
export type CaptureMethod = NonNullable<PaymentRecord["captureMethod"]>;

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
