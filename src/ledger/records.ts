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
/** Who is calling, as the edge authenticated it (src/auth). */
export interface Caller {
  /** Every call is confined to one tenant (the default tenant when authentication is off). */
  tenantId: string;
  /** Id of the stored API key (api_keys.id); null for keys configured by API_KEYS/API_KEYS_FILE. */
  keyId: string | null;
  /** Id (jti) of the account token, when one made the call. */
  tokenId: string | null;
  /** An account token's accounts: the call may act only on these. Null for API keys. */
  accountIds: readonly string[] | null;
}

export interface RequestContext {
  /** Authenticated client; idempotency keys are scoped to it. */
  clientId: string;
  /**
   * The caller's boundary (issue 21): the tenant whose accounts it may see and move, the API key
   * (or account token) that authenticated it, and, for an account token, the only accounts it may
   * act on. Checked where the money rules run (ledger_apply) and by every read. Absent: the
   * default tenant without an account limit (the service's own work, tools and tests).
   */
  caller?: Caller;
  /** W3C traceparent of the incoming request, copied to the events it causes. */
  traceparent?: string;
  /** Aborted when the caller's deadline passes or it goes away. */
  signal?: AbortSignal;
}
