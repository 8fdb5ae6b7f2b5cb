/**
 * The one place where failures become Connect errors. Ledger errors keep their message and carry
 * an ErrorDetail with the stable code and field; anything unexpected is logged with the request
 * id and returned as INTERNAL with no internals.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { ulid } from "../ids/ulid.js";
import { ErrorDetailSchema } from "../../gen/payment/v1/common_pb.js";
import { databaseUnavailable, isDatabaseUnavailable, LedgerError, LedgerErrorCode } from "../ledger/ledger-error.js";
import type { Logger } from "../telemetry/logger.js";
import { requestIdKey } from "./request-context.js";

const connectCodeOf: Record<LedgerErrorCode, Code> = {
  [LedgerErrorCode.INVALID_ARGUMENT]: Code.InvalidArgument,
  [LedgerErrorCode.ACCOUNT_NOT_FOUND]: Code.NotFound,
  [LedgerErrorCode.PAYMENT_NOT_FOUND]: Code.NotFound,
  [LedgerErrorCode.ACCOUNT_ALREADY_EXISTS]: Code.AlreadyExists,
  [LedgerErrorCode.IDEMPOTENCY_KEY_REUSED]: Code.AlreadyExists,
  [LedgerErrorCode.CURRENCY_MISMATCH]: Code.FailedPrecondition,
  [LedgerErrorCode.CONTENTION]: Code.Aborted,
  [LedgerErrorCode.WATCH_TOO_SLOW]: Code.ResourceExhausted,
  [LedgerErrorCode.INVALID_PAYMENT_STATE]: Code.FailedPrecondition,
  [LedgerErrorCode.CAPTURE_EXCEEDS_HOLD]: Code.FailedPrecondition,
  [LedgerErrorCode.REFUND_EXCEEDS_CAPTURED]: Code.FailedPrecondition,
  [LedgerErrorCode.BALANCE_LIMIT_EXCEEDED]: Code.FailedPrecondition,
  [LedgerErrorCode.OVERDRAFT_LIMIT_TOO_LOW]: Code.FailedPrecondition,
  [LedgerErrorCode.DATABASE_UNAVAILABLE]: Code.Unavailable,
};

/**
 * The Connect code name ("invalid_argument", ...) a LedgerError maps to: what a batch reports for
 * an item that failed alone, so it reads the same as the error of a single request.
 */
export function ledgerErrorStatus(error: LedgerError): string {
  return codeToString(connectCodeOf[error.code]);
}

/** Maps any thrown value to the ConnectError a client should see. */
export function toConnectError(error: unknown, requestId: string, logger: Logger, procedure: string): ConnectError {
  const metadata = { "x-request-id": requestId };
  if (!(error instanceof LedgerError) && isDatabaseUnavailable(error)) {
    // Retryable, not INTERNAL: clients retry UNAVAILABLE, and the same key makes the retry safe.
    logger.warn({ err: error, requestId, procedure }, "database unavailable");
    error = databaseUnavailable();
  }
  if (error instanceof LedgerError) {
    const detail = { desc: ErrorDetailSchema, value: create(ErrorDetailSchema, { code: error.code, field: error.field ?? "" }) };
    return new ConnectError(error.message, connectCodeOf[error.code], metadata, [detail]);
  }
  if (error instanceof ConnectError) {
    // Raised by the framework (bad JSON, deadline, size limits): already client-facing.
    for (const [name, value] of Object.entries(metadata)) error.metadata.set(name, value);
    return error;
  }
  logger.error({ err: error, requestId, procedure }, "unexpected failure");
  return new ConnectError(`internal error (request id ${requestId})`, Code.Internal, metadata);
}

/**
 * Assigns every request an id (the caller's `x-request-id` when it sends a sane one), echoes it in
 * the response, and maps failures through `toConnectError`. `onDatabaseUnavailable` hears of every
 * request that failed because the database was unreachable (health uses it).
 */
export function errorInterceptor(logger: Logger, onDatabaseUnavailable: () => void = () => {}): Interceptor {
  return (next) => async (request) => {
    const offered = request.header.get("x-request-id");
    const requestId = offered && /^[\w.-]{1,128}$/.test(offered) ? offered : ulid();
    request.contextValues.set(requestIdKey, requestId);
    try {
      const response = await next(request);
      response.header.set("x-request-id", requestId);
      // A streaming handler fails while its messages are read, after this call has returned.
      if (response.stream) return { ...response, message: mapStreamErrors(response.message, requestId, logger, request.url) };
      return response;
    } catch (error) {
      // A real query failing counts for readiness at once, not only the next periodic ping.
      if (isDatabaseUnavailable(error)) onDatabaseUnavailable();
      throw toConnectError(error, requestId, logger, request.url);
    }
  };
}

async function* mapStreamErrors<T>(messages: AsyncIterable<T>, requestId: string, logger: Logger, procedure: string): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw toConnectError(error, requestId, logger, procedure);
  }
}
