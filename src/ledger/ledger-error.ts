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
  /** CreateTenant of an existing tenant id with another display name. */
  TENANT_ALREADY_EXISTS: "TENANT_ALREADY_EXISTS",
  /** The idempotency key was already used for a different request. */
  IDEMPOTENCY_KEY_REUSED: "IDEMPOTENCY_KEY_REUSED",
  /** A deposit's currency differs from its account's currency. */
  CURRENCY_MISMATCH: "CURRENCY_MISMATCH",
  /** Transient database conflicts persisted through every retry; the request may be retried. */
  CONTENTION: "CONTENTION",
  /** A watch stream fell too far behind; the client resumes from the position it reached. */
  WATCH_TOO_SLOW: "WATCH_TOO_SLOW",
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
  /** A money command names a closed account (CloseAccount); nothing was written. */
  ACCOUNT_CLOSED: "ACCOUNT_CLOSED",
  /** CloseAccount of an account with money available, held or overdrawn; the message says which. */
  ACCOUNT_NOT_EMPTY: "ACCOUNT_NOT_EMPTY",
  /** Metadata with more than 50 keys. */
  METADATA_TOO_MANY_KEYS: "METADATA_TOO_MANY_KEYS",
  /** A metadata key that is empty, longer than 40 characters or holds control characters; `field` names it. */
  METADATA_KEY_INVALID: "METADATA_KEY_INVALID",
  /** A metadata value longer than 500 characters or holding NUL; `field` names its key. */
  METADATA_VALUE_INVALID: "METADATA_VALUE_INVALID",
  /**
   * The database could not be reached or went away mid-request. The outcome of a write is then
   * unknown to the service too; retrying with the same idempotency key is safe and has one effect.
   */
  DATABASE_UNAVAILABLE: "DATABASE_UNAVAILABLE",
  /**
   * An item of an atomic batch that was not applied because another item of the batch (named in
   * the message) was refused or declined: no item of the batch was written.
   */
  ABORTED: "ABORTED",
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

/**
 * Driver and socket codes meaning "no usable connection": postgres.js's own (CONNECTION_*,
 * CONNECT_TIMEOUT; CONNECTION_NOT_READ_WRITE when every host of a multi-host DATABASE_URL with
 * target_session_attrs=read-write was down or a standby: a failover in progress, see
 * patches/postgres+3.4.9.patch) and Node's socket errors (ECONNREFUSED at start, ECONNRESET/EPIPE
 * when a backend dies, DNS failures).
 */
const CONNECTION_ERROR_CODES = new Set([
  "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT",
  "CONNECTION_NOT_READ_WRITE", "CONNECTION_NOT_PRIMARY",
  "ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN",
]);

/**
 * SQLSTATEs of a server that is going, not there yet or not the primary: class 08 (connection
 * exception), 57P01 admin_shutdown (pg_terminate_backend, fast shutdown, a demoted primary), 57P02
 * crash_shutdown, 57P03 cannot_connect_now ("the database system is starting up / shutting down /
 * in recovery mode"), 53300 too_many_connections, and 25006 read_only_sql_transaction: a write that
 * reached a server in recovery (a standby, or a primary being demoted). The driver does not hand out
 * such connections for writes (target_session_attrs=read-write); this is the last line of defence,
 * and the statement was refused, so the retry the client makes with the same key is safe.
 */
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300", "25006"]);

/**
 * True when `error` (looking through Drizzle's wrapping) says the database is unreachable rather
 * than that the request was wrong: the one classification of driver failures, used by the API
 * mapping and by health.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof LedgerError) return error.code === LedgerErrorCode.DATABASE_UNAVAILABLE;
  for (let current = error, depth = 0; current && typeof current === "object" && depth < 8; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && (CONNECTION_ERROR_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith("08"))) {
      return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The client-facing form of a database outage. */
export function databaseUnavailable(): LedgerError {
  return new LedgerError(
    LedgerErrorCode.DATABASE_UNAVAILABLE,
    "the database is unavailable: retry with the same idempotency key (a retry has exactly one effect)",
  );
}
