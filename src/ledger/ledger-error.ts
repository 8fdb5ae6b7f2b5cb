/**
 * The ledger's one error model: a closed set of stable codes. The API layer maps each code to a
 * transport status in one place (src/api/error-mapping.ts); the ledger itself knows no transport.
 */

/** Every code a ledger operation may fail with. Stable: clients may branch on them. */
export const LedgerErrorCode = {
  /** A request field is missing or malformed; `field` names it. */
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  ACCOUNT_NOT_FOUND: "ACCOUNT_NOT_FOUND",
  PAYMENT_NOT_FOUND: "PAYMENT_NOT_FOUND",
  /** A caller-chosen account id is taken by an account with other attributes. */
  ACCOUNT_ALREADY_EXISTS: "ACCOUNT_ALREADY_EXISTS",
  /** The idempotency key was already used for a different request. */
  IDEMPOTENCY_KEY_REUSED: "IDEMPOTENCY_KEY_REUSED",
  /** A deposit's currency differs from its account's currency. */
  CURRENCY_MISMATCH: "CURRENCY_MISMATCH",
  /** Transient database conflicts persisted through every retry; the request may be retried. */
  CONTENTION: "CONTENTION",
  /** The payment is not in a status that allows the transition (e.g. capture of a voided payment). */
  INVALID_PAYMENT_STATE: "INVALID_PAYMENT_STATE",
  /** A capture asked for more than the open hold holds. */
  CAPTURE_EXCEEDS_HOLD: "CAPTURE_EXCEEDS_HOLD",
  /** A refund asked for more than what reached the payee minus earlier refunds. */
  REFUND_EXCEEDS_CAPTURED: "REFUND_EXCEEDS_CAPTURED",
  /** A balance would leave the int64 range of minor units; nothing was moved. */
  BALANCE_LIMIT_EXCEEDED: "BALANCE_LIMIT_EXCEEDED",
  /** A new overdraft limit is below what the account already overdraws. */
  OVERDRAFT_LIMIT_TOO_LOW: "OVERDRAFT_LIMIT_TOO_LOW",
} as const;

export type LedgerErrorCode = (typeof LedgerErrorCode)[keyof typeof LedgerErrorCode];

/** A failure the caller can act on. Anything else thrown by the ledger is an internal error. */
export class LedgerError extends Error {
  override readonly name = "LedgerError";

  constructor(
    readonly code: LedgerErrorCode,
    message: string,
    /** The request field (protobuf name) the error is about, if any. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Shorthand for an INVALID_ARGUMENT error about one field; the message starts with the field. */
export function invalidArgument(field: string, why: string): LedgerError {
  return new LedgerError(LedgerErrorCode.INVALID_ARGUMENT, `${field}: ${why}`, field);
}
