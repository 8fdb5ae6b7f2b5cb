/**
 * Every error code a client can receive, in one place: each stable code (sent in the
 * `payment.v1.ErrorDetail` of the error) with its Connect code, what it means and what the client
 * should do. The HTTP status follows from the Connect code by the Connect protocol's own table.
 * The ledger's codes come from LedgerErrorCode, so that list stays single: a new ledger code
 * does not compile until it has an entry here. The README's error table is checked against this
 * module by test/api/error-catalogue.test.ts.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { ErrorDetailSchema } from "../../gen/payment/v1/common_pb.js";
import { LedgerErrorCode } from "../ledger/ledger-error.js";

/** Codes raised at the edge (transport, decoding, authentication, limits), not by the ledger. */
export const EdgeErrorCode = {
  MALFORMED_REQUEST: "MALFORMED_REQUEST",
  REQUEST_TOO_LARGE: "REQUEST_TOO_LARGE",
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
  UNSUPPORTED_ENCODING: "UNSUPPORTED_ENCODING",
  UNKNOWN_ROUTE: "UNKNOWN_ROUTE",
  UNAUTHENTICATED: "UNAUTHENTICATED",
  PERMISSION_DENIED: "PERMISSION_DENIED",
  RATE_LIMITED: "RATE_LIMITED",
  DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
  UNKNOWN_HEALTH_SERVICE: "UNKNOWN_HEALTH_SERVICE",
  UNAVAILABLE: "UNAVAILABLE",
  CANCELED: "CANCELED",
  INTERNAL: "INTERNAL",
} as const;

export type EdgeErrorCode = (typeof EdgeErrorCode)[keyof typeof EdgeErrorCode];

/** Codes of key management and account tokens (src/auth). */
export const AccessErrorCode = {
  TENANT_NOT_FOUND: "TENANT_NOT_FOUND",
  API_KEY_NOT_FOUND: "API_KEY_NOT_FOUND",
  CLIENT_ID_TAKEN: "CLIENT_ID_TAKEN",
  TOKEN_INVALID: "TOKEN_INVALID",
  TOKEN_SIGNING_NOT_CONFIGURED: "TOKEN_SIGNING_NOT_CONFIGURED",
} as const;

export type AccessErrorCode = (typeof AccessErrorCode)[keyof typeof AccessErrorCode];

/** Any code a client may find in an ErrorDetail. */
export type ErrorCode = LedgerErrorCode | EdgeErrorCode | AccessErrorCode;

export interface CatalogueEntry {
  readonly connectCode: Code;
  /** What happened, for the README and for people reading logs. */
  readonly meaning: string;
  /** What a client should do about it. */
  readonly action: string;
  /** The HTTP status of a Connect unary answer when the protocol prescribes another than the code's. */
  readonly httpStatus?: number;
}

const ledgerEntries: Record<LedgerErrorCode, CatalogueEntry> = {
  INVALID_ARGUMENT: {
    connectCode: Code.InvalidArgument,
    meaning: "A request field is missing or malformed; `field` names it",
    action: "Fix the field; do not retry unchanged",
  },
  ACCOUNT_NOT_FOUND: { connectCode: Code.NotFound, meaning: "No account has this id", action: "Check the id, or create the account first" },
  PAYMENT_NOT_FOUND: { connectCode: Code.NotFound, meaning: "No payment has this id", action: "Check the id" },
  TENANT_ALREADY_EXISTS: {
    connectCode: Code.AlreadyExists,
    meaning: "CreateTenant: the tenant id is taken by a tenant with another display name",
    action: "Choose another id, or create it with the existing display name",
  },
  ACCOUNT_ALREADY_EXISTS: {
    connectCode: Code.AlreadyExists,
    meaning: "A caller-chosen account id is taken by an account with other attributes",
    action: "Choose another id, or read the existing account",
  },
  IDEMPOTENCY_KEY_REUSED: {
    connectCode: Code.AlreadyExists,
    meaning: "The idempotency key was used before for a different request",
    action: "Use a fresh key for a new request; resend the original request unchanged to get its result",
  },
  CURRENCY_MISMATCH: {
    connectCode: Code.FailedPrecondition,
    meaning: "The currency differs from the account's currency",
    action: "Send the account's currency",
  },
  CONTENTION: {
    connectCode: Code.Aborted,
    meaning: "Database conflicts persisted through every retry",
    action: "Retry with the same idempotency key after a short backoff",
  },
  WATCH_TOO_SLOW: {
    connectCode: Code.ResourceExhausted,
    meaning: "A watch stream fell too far behind the ledger",
    action: "Open the watch again from the position it reached",
  },
  INVALID_PAYMENT_STATE: {
    connectCode: Code.FailedPrecondition,
    meaning: "The payment's status does not allow this transition (e.g. capture of a voided payment)",
    action: "Read the payment; do not retry unchanged",
  },
  CAPTURE_EXCEEDS_HOLD: {
    connectCode: Code.FailedPrecondition,
    meaning: "The capture asks for more than the open hold holds",
    action: "Capture at most the held amount (0 captures all of it)",
  },
  REFUND_EXCEEDS_CAPTURED: {
    connectCode: Code.FailedPrecondition,
    meaning: "The refund asks for more than reached the payee minus earlier refunds",
    action: "Refund at most the refundable amount shown on the payment",
  },
  BALANCE_LIMIT_EXCEEDED: {
    connectCode: Code.FailedPrecondition,
    meaning: "A balance would leave the int64 range of minor units; nothing was moved",
    action: "Use smaller amounts; do not retry unchanged",
  },
  OVERDRAFT_LIMIT_TOO_LOW: {
    connectCode: Code.FailedPrecondition,
    meaning: "The new overdraft limit is below what the account already overdraws",
    action: "Set a limit at least as large as the current overdraft",
  },
  ACCOUNT_CLOSED: {
    connectCode: Code.FailedPrecondition,
    meaning: "The account was closed (CloseAccount): it takes no money in or out; nothing was written",
    action: "Use an open account; a closed account stays readable but is never reopened",
  },
  ACCOUNT_NOT_EMPTY: {
    connectCode: Code.FailedPrecondition,
    meaning: "CloseAccount of an account with money available, held by open holds, or overdrawn (the message says which)",
    action: "Pay out, capture or void, or cover the overdraft, then close again",
  },
  METADATA_TOO_MANY_KEYS: {
    connectCode: Code.InvalidArgument,
    meaning: "Metadata with more than 50 keys",
    action: "Send at most 50 keys; do not retry unchanged",
  },
  METADATA_KEY_INVALID: {
    connectCode: Code.InvalidArgument,
    meaning: "A metadata key is empty, longer than 40 characters or holds control or invisible characters; `field` names it",
    action: "Fix the key; do not retry unchanged",
  },
  METADATA_VALUE_INVALID: {
    connectCode: Code.InvalidArgument,
    meaning: "A metadata value is longer than 500 characters or holds NUL; `field` names its key",
    action: "Shorten the value; do not retry unchanged",
  },
  DATABASE_UNAVAILABLE: {
    connectCode: Code.Unavailable,
    meaning: "The database could not be reached or went away mid-request; a write's outcome is unknown",
    action: "Retry with backoff and the same idempotency key: the retry has one effect",
  },
  ABORTED: {
    connectCode: Code.Aborted,
    meaning: "An item of an atomic batch was not applied because the item the message names was refused or declined; nothing of the batch was written",
    action: "Fix or drop the failing item and send the batch again with new idempotency keys (the old keys replay this outcome)",
  },
};

const edgeEntries: Record<EdgeErrorCode, CatalogueEntry> = {
  MALFORMED_REQUEST: {
    connectCode: Code.InvalidArgument,
    meaning: "The request could not be decoded: bad JSON or protobuf, unknown field, bad base64, bad gzip, bad framing, bad int64",
    action: "Fix the client's encoding; do not retry unchanged",
  },
  REQUEST_TOO_LARGE: {
    connectCode: Code.ResourceExhausted,
    meaning: "The request message is larger than the server's limit (READ_MAX_BYTES), before or after decompression",
    action: "Send a smaller message",
  },
  UNSUPPORTED_MEDIA_TYPE: {
    connectCode: Code.InvalidArgument,
    meaning:
      "Content-Type is missing or not one the method accepts: application/json or application/proto (Connect unary), application/connect+json or application/connect+proto (Connect streaming), application/grpc*, application/grpc-web*",
    action: "Send the Content-Type the message names, e.g. application/json for a unary call, application/connect+json for a stream",
    httpStatus: 415,
  },
  METHOD_NOT_ALLOWED: {
    connectCode: Code.Unimplemented,
    meaning: "The HTTP method is not one the procedure accepts (POST; GET also for side-effect-free Connect unary methods); the Allow header lists them",
    action: "Send POST, or a Connect GET (?encoding=json&message=...) where Allow lists GET",
    httpStatus: 405,
  },
  UNSUPPORTED_ENCODING: {
    connectCode: Code.Unimplemented,
    meaning: "The request's content coding is not supported (gzip and br are)",
    action: "Send gzip, br or an uncompressed body",
  },
  UNKNOWN_ROUTE: {
    connectCode: Code.Unimplemented,
    meaning: "No procedure or page has this path",
    action: "Check the path: /package.Service/Method",
    // What HTTP says of a path with nothing behind it (and what Connect's HTTP-to-code table maps to unimplemented).
    httpStatus: 404,
  },
  UNAUTHENTICATED: {
    connectCode: Code.Unauthenticated,
    meaning: "The API key is missing, malformed, unknown or revoked",
    action: "Send Authorization: Bearer <key> with a valid key",
  },
  PERMISSION_DENIED: {
    connectCode: Code.PermissionDenied,
    meaning: "The API key or account token lacks the scope the method requires, or a token names an account it does not list or a method tokens may not call",
    action: "Use a key or token with the scope (and accounts) named in the message",
  },
  RATE_LIMITED: {
    connectCode: Code.ResourceExhausted,
    meaning: "The caller's rate limit for this method, or its tenant's limit (all its clients together), is used up",
    action: "Retry after retry-after-ms milliseconds",
  },
  DEADLINE_EXCEEDED: {
    connectCode: Code.DeadlineExceeded,
    meaning: "The call did not finish within its deadline; a write may still have happened",
    action: "Retry with the same idempotency key, or read the result",
  },
  UNKNOWN_HEALTH_SERVICE: {
    connectCode: Code.NotFound,
    meaning: "Health was asked about a service this server does not serve",
    action: "Ask about \"\" or payment.v1.AccountService / payment.v1.PaymentService",
  },
  UNAVAILABLE: {
    connectCode: Code.Unavailable,
    meaning: "The server or its database is temporarily unavailable",
    action: "Retry with backoff, with the same idempotency key",
  },
  CANCELED: { connectCode: Code.Canceled, meaning: "The call was canceled (by the client or by shutdown)", action: "Retry if it was not the client that canceled" },
  INTERNAL: {
    connectCode: Code.Internal,
    meaning: "An unexpected failure; the message carries the request id that the log has",
    action: "Report the request id; retry with the same idempotency key",
  },
};

const accessEntries: Record<AccessErrorCode, CatalogueEntry> = {
  TENANT_NOT_FOUND: { connectCode: Code.NotFound, meaning: "No tenant has this id; `field` names it", action: "Check the id, or create the tenant first" },
  API_KEY_NOT_FOUND: { connectCode: Code.NotFound, meaning: "No stored API key has this id", action: "Check the id (ListApiKeys)" },
  CLIENT_ID_TAKEN: {
    connectCode: Code.AlreadyExists,
    meaning: "The client id belongs to another tenant (a stored or configured key): idempotency keys and rate limits are per client",
    action: "Choose another client id",
  },
  TOKEN_INVALID: {
    connectCode: Code.Unauthenticated,
    meaning: "The account token is not accepted (signature, expiry, audience, issuer, or its key was revoked); which check failed is not said",
    action: "Mint a new token with a valid API key",
  },
  TOKEN_SIGNING_NOT_CONFIGURED: {
    connectCode: Code.FailedPrecondition,
    meaning: "MintAccountToken on a service without TOKEN_SIGNING_KEYS",
    action: "Configure TOKEN_SIGNING_KEYS (README, Tenants, keys and tokens)",
  },
};

/** The whole catalogue, ledger codes first. */
export const errorCatalogue: Record<ErrorCode, CatalogueEntry> = { ...ledgerEntries, ...edgeEntries, ...accessEntries };

/** The HTTP status of a Connect unary error with this code (gRPC and gRPC-Web answer 200). */
export function httpStatusOf(code: ErrorCode): number {
  const entry = errorCatalogue[code];
  return entry.httpStatus ?? codeToHttpStatus(entry.connectCode);
}

/** Longest message excerpt of client input echoed back: trailers must stay far below HTTP/2 frame limits. */
export const MAX_ECHO_CHARS = 64;
/** Longest error message sent to a client at all. */
export const MAX_MESSAGE_CHARS = 512;

/** A short, printable prefix of client input for error messages. */
export function excerpt(value: string, max = MAX_ECHO_CHARS): string {
  const printable = value.replace(/[^\x20-\x7e]/g, "?");
  return printable.length > max ? `${printable.slice(0, max)}...(${value.length} chars)` : printable;
}

/** The detail every client-facing error carries. */
export function errorDetail(code: ErrorCode, field = "") {
  return { desc: ErrorDetailSchema, value: create(ErrorDetailSchema, { code, field }) };
}

/** A ConnectError with its catalogue code and detail. */
export function catalogueError(code: ErrorCode, message: string, metadata?: HeadersInit, field?: string): ConnectError {
  return new ConnectError(message, errorCatalogue[code].connectCode, metadata, [errorDetail(code, field)]);
}

/**
 * The catalogue code of an error raised without one (by the framework: decoding, size limits,
 * deadlines), from its Connect code.
 */
export function codeForFrameworkError(code: Code): ErrorCode {
  switch (code) {
    case Code.InvalidArgument:
      return EdgeErrorCode.MALFORMED_REQUEST;
    case Code.ResourceExhausted:
      return EdgeErrorCode.REQUEST_TOO_LARGE;
    case Code.Unimplemented:
      return EdgeErrorCode.UNSUPPORTED_ENCODING;
    case Code.DeadlineExceeded:
      return EdgeErrorCode.DEADLINE_EXCEEDED;
    case Code.Unauthenticated:
      return EdgeErrorCode.UNAUTHENTICATED;
    case Code.PermissionDenied:
      return EdgeErrorCode.PERMISSION_DENIED;
    case Code.Unavailable:
      return EdgeErrorCode.UNAVAILABLE;
    case Code.Canceled:
      return EdgeErrorCode.CANCELED;
    default:
      return EdgeErrorCode.INTERNAL;
  }
}

/** Markdown table of the catalogue, as the README carries it. */
export function catalogueMarkdown(): string {
  const rows = Object.entries(errorCatalogue).map(([code, entry]) => {
    const connect = Code[entry.connectCode].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
    return `| \`${code}\` | ${connect} | ${httpStatusOf(code as ErrorCode)} | ${entry.meaning} | ${entry.action} |`;
  });
  return ["| Code | Connect code | HTTP | Meaning | What to do |", "| --- | --- | --- | --- | --- |", ...rows].join("\n");
}
