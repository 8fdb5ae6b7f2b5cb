/**
 * A typed client for backend users of the ledger, exported as `payment-ledger/client`:
 *
 *     import { createLedgerClient } from "payment-ledger/client";
 *     const ledger = createLedgerClient({ baseUrl: "http://127.0.0.1:8080", apiKey: process.env.LEDGER_API_KEY });
 *     const { payment } = await ledger.payments.authorizePayment({ payerAccountId, payeeAccountId, amountCents: 2500n, currency: "USD" });
 *
 * What it adds to plain Connect clients, as interceptors (outermost first):
 * - an idempotency key for every money-moving request that has none (a random UUID), set once per
 *   call, so that the retries below send the same key and the ledger applies the request once;
 * - retries of `UNAVAILABLE` (the service or its database is briefly away) and `ABORTED` (lock
 *   contention; not an item of an aborted atomic batch, code ABORTED) with exponential backoff and
 *   full jitter (src/retry/backoff.ts), within the call's deadline; and of a connection lost under
 *   the call (the service was killed or dropped it) when the request is safe to send again (a read,
 *   or one that carries its idempotency key); every other code is the caller's to handle;
 * - the API key as `Authorization: Bearer`.
 * Deadlines: `timeoutMs` is the default deadline of every call (per call: `{ timeoutMs }`); it
 * covers the retries too, and the server gets it as `grpc-timeout` / `connect-timeout-ms`.
 */
import { randomUUID } from "node:crypto";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport, type UnaryRequest } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { AccountService } from "../../gen/payment/v1/account_pb.js";
import { ErrorDetailSchema } from "../../gen/payment/v1/common_pb.js";
import { PaymentService } from "../../gen/payment/v1/payment_pb.js";
import { backoffDelay, type BackoffPolicy } from "../retry/backoff.js";

export { Code, ConnectError };

export interface LedgerClientOptions {
  /** e.g. "http://127.0.0.1:8080" (HTTP/2 with prior knowledge for gRPC) or an https URL. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`; omit for a service running with AUTH_DISABLED. */
  apiKey?: string;
  /** "connect" (Connect binary over HTTP/2, default) or "grpc". */
  protocol?: "connect" | "grpc";
  /** Default deadline of every call, retries included (default 10 s). */
  timeoutMs?: number;
  /** Attempts per call including the first (default 4); 1 turns retries off. */
  attempts?: number;
  /** Backoff between attempts (default 50 ms base, 2 s cap). */
  backoff?: BackoffPolicy;
  /** Makes idempotency keys for requests that have none (default: random UUIDs). */
  newIdempotencyKey?: () => string;
}

export interface LedgerClient {
  readonly accounts: Client<typeof AccountService>;
  readonly payments: Client<typeof PaymentService>;
  readonly transport: Transport;
}

/** The codes a retry with the same idempotency key may fix. */
export const RETRYABLE_CODES: ReadonlySet<Code> = new Set([Code.Unavailable, Code.Aborted]);

const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 50, maxMs: 2_000 };

/** Creates typed clients of both services over one transport. */
export function createLedgerClient(options: LedgerClientOptions): LedgerClient {
  const interceptors = [
    idempotencyKeys(options.newIdempotencyKey ?? randomUUID),
    retries(options.attempts ?? 4, options.backoff ?? DEFAULT_BACKOFF),
    ...(options.apiKey ? [bearer(options.apiKey)] : []),
  ];
  const common = { baseUrl: options.baseUrl, interceptors, defaultTimeoutMs: options.timeoutMs ?? 10_000 };
  const transport =
    options.protocol === "grpc"
      ? createGrpcTransport(common)
      : createConnectTransport({ ...common, httpVersion: "2", useBinaryFormat: true });
  return { accounts: createClient(AccountService, transport), payments: createClient(PaymentService, transport), transport };
}

/**
 * Fills an empty `idempotencyKey` field of a unary request with side effects, once per call (a read
 * such as GetPayment, which may look a payment up by key, keeps its field as given).
 */
export function idempotencyKeys(newKey: () => string): Interceptor {
  return (next) => (request) => {
    const message = request.message as { idempotencyKey?: unknown };
    if (!request.stream && !isRead(request.method) && typeof message.idempotencyKey === "string" && message.idempotencyKey === "") {
      message.idempotencyKey = newKey();
    }
    return next(request);
  };
}

/** Retries unary calls that failed with a retryable code, until `attempts` or the deadline. */
export function retries(attempts: number, backoff: BackoffPolicy): Interceptor {
  return (next) => async (request) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(request);
      } catch (error) {
        const connectError = ConnectError.from(error);
        if (request.stream || attempt >= attempts || !isRetryable(connectError, request) || request.signal.aborted) throw error;
        await sleep(backoffDelay(backoff, attempt), request.signal);
      }
    }
  };
}

/**
 * Whether a retry may fix it: a lost connection when the request is safe to send again; else a
 * retryable code, except ABORTED from an aborted atomic batch (its key keeps that outcome: a retry
 * with it answers the same; contention is CONTENTION).
 */
function isRetryable(error: ConnectError, request: UnaryRequest): boolean {
  if (connectionLost(error, request.signal.aborted)) return replaySafe(request);
  if (!RETRYABLE_CODES.has(error.code)) return false;
  return !error.findDetails(ErrorDetailSchema).some((detail) => detail.code === "ABORTED");
}

/** Socket failures that mean the connection went away under a call (connect-node keeps them as causes). */
const LOST_CONNECTION_CAUSES = new Set(["EPIPE", "ECONNRESET", "ECONNABORTED", "ERR_STREAM_PREMATURE_CLOSE"]);

/**
 * Whether the connection failed under the call rather than the service answering: a socket error
 * raised by the client (connect-node reports a write to a closed socket, EPIPE, as INTERNAL and a
 * reset as ABORTED), or CANCELED while the caller did not cancel (an HTTP/2 session closed under
 * the stream, or the service cancelling calls as it shuts down: the error catalogue's CANCELED says
 * to retry those). The request may or may not have reached the service.
 */
export function connectionLost(error: ConnectError, callerCancelled: boolean): boolean {
  if (error.code === Code.Canceled) return !callerCancelled;
  for (let cause = error.cause, depth = 0; cause && typeof cause === "object" && depth < 8; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && LOST_CONNECTION_CAUSES.has(code)) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Whether sending `request` again has the effect of sending it once: a read, a request with its
 * idempotency key, or CreateAccount naming the account it opens.
 */
export function replaySafe(request: Pick<UnaryRequest, "method" | "message">): boolean {
  if (isRead(request.method)) return true;
  const message = request.message as { idempotencyKey?: unknown; accountId?: unknown };
  if (typeof message.idempotencyKey === "string") return message.idempotencyKey !== "";
  return request.method.name === "CreateAccount" && typeof message.accountId === "string" && message.accountId !== "";
}

/** A method declared without side effects (`idempotency_level = NO_SIDE_EFFECTS`): a read. */
function isRead(method: UnaryRequest["method"]): boolean {
  return method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
}

function bearer(apiKey: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${apiKey}`);
    return next(request);
  };
}

/** Waits `ms`, or less when `signal` aborts (the next attempt then fails with the deadline's code). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
