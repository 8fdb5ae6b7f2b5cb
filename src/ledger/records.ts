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
  /**
   * The sequence of the account's last ledger entry these balances include (0 before the first;
   * hold movements do not count): the same position in every read, now, as of an instant, watched.
   */
  entrySequence: bigint;
  /**
   * The balance row's change counter, one more per write of the balances or the overdraft limit
   * (holds included); null for balances read as of an instant, which have no row of their own.
   */
  revision: bigint | null;
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
