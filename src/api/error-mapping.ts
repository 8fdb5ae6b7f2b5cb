/**
 * The one place where failures become Connect errors. Ledger errors keep their message and carry
 * an ErrorDetail with the stable code and field; anything unexpected is logged with the request
 * id and returned as INTERNAL with no internals.
 */
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { ulid } from "../ids/ulid.js";
import { ErrorDetailSchema } from "../../gen/payment/v1/common_pb.js";
import { databaseUnavailable, isDatabaseUnavailable, LedgerError } from "../ledger/ledger-error.js";
import type { Logger } from "../telemetry/logger.js";
import { catalogueError, codeForFrameworkError, errorCatalogue, errorDetail, EdgeErrorCode, MAX_MESSAGE_CHARS } from "./error-catalogue.js";
import { requestIdKey } from "./request-context.js";

/**
 * The Connect code name ("invalid_argument", ...) a LedgerError maps to: what a batch reports for
 * an item that failed alone, so it reads the same as the error of a single request.
 */
export function ledgerErrorStatus(error: LedgerError): string {
  return codeToString(errorCatalogue[error.code].connectCode);
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
    return catalogueError(error.code, bounded(error.message), metadata, error.field);
  }
  if (error instanceof ConnectError) {
    // Raised by the edge (with a catalogue code) or by the framework (deadline, size limits,
    // bad JSON): already client-facing; framework errors get their catalogue code here.
    return withDetail(error, metadata);
  }
  logger.error({ err: error, requestId, procedure }, "unexpected failure");
  return catalogueError(EdgeErrorCode.INTERNAL, `internal error (request id ${requestId})`, metadata);
}

/** Messages may quote client input; a long one must not outgrow a trailer (HTTP/2 frame limits). */
function bounded(message: string): string {
  return message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS)}...` : message;
}

/** The error with an ErrorDetail (its catalogue code) and a bounded message. */
export function withDetail(error: ConnectError, metadata: Record<string, string> = {}): ConnectError {
  const hasDetail = error.findDetails(ErrorDetailSchema).length > 0;
  if (hasDetail && error.rawMessage.length <= MAX_MESSAGE_CHARS) {
    for (const [name, value] of Object.entries(metadata)) error.metadata.set(name, value);
    return error;
  }
  // Errors raised on this server carry outgoing details ({desc, value}), never wire bytes.
  const own = error.details as ConstructorParameters<typeof ConnectError>[3] & object;
  const details = hasDetail ? own : [...own, errorDetail(codeForFrameworkError(error.code))];
  const copy = new ConnectError(bounded(error.rawMessage), error.code, error.metadata, details, error.cause);
  for (const [name, value] of Object.entries(metadata)) copy.metadata.set(name, value);
  return copy;
}

/** The caller's `x-request-id` when it is sane, else a new one. */
export function requestIdOf(offered: string | null): string {
  return offered && /^[\w.-]{1,128}$/.test(offered) ? offered : ulid();
}

/**
 * Assigns every request an id (the caller's `x-request-id` when it sends a sane one), echoes it in
 * the response, and maps failures through `toConnectError`. `onDatabaseUnavailable` hears of every
 * request that failed because the database was unreachable (health uses it).
 */
export function errorInterceptor(logger: Logger, onDatabaseUnavailable: () => void = () => {}): Interceptor {
  return (next) => async (request) => {
    // The edge may have assigned one already, for requests the framework refuses before this runs.
    const requestId = request.contextValues.get(requestIdKey) || requestIdOf(request.header.get("x-request-id"));
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
