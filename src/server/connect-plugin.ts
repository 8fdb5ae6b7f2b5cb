/**
 * Connect routes in Fastify, like @connectrpc/connect-fastify's plugin (whose 60 lines this
 * replaces), plus what the edge needs before and after the framework's own handling:
 *
 * - Requests the framework would refuse before any interceptor runs (no or wrong Content-Type,
 *   undecodable or oversize bodies, bad compression) still get a request id (`x-request-id`), a
 *   log line and a count in `rpc.server.rejected_requests` (rejected-requests.ts), and their errors carry an ErrorDetail with the
 *   catalogue code, like every other error.
 * - A POST without a Content-Type is refused (connect-es would take it as JSON when only one
 *   protocol accepts POST), naming the expected types, in the Connect error format.
 * - Content codings are matched case-insensitively (`GZIP`), as HTTP has them.
 * - Unknown paths answer in the Connect (or gRPC) error format instead of Fastify's own JSON.
 *
 * Decoding errors themselves are made client errors where they happen, in connect-es and
 * protobuf-es (patches/, applied by `patch-package` on install).
 */
import { Code, ConnectError, createConnectRouter, createContextValues, type ConnectRouterOptions } from "@connectrpc/connect";
import { codeFromString, codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { catalogueError, EdgeErrorCode, excerpt, httpStatusOf } from "../api/error-catalogue.js";
import { requestIdOf, withDetail } from "../api/error-mapping.js";
import { procedureOf } from "../api/procedures.js";
import { requestIdKey } from "../api/request-context.js";
import { peerAddressKey } from "../limits/rate-limit-interceptor.js";
import type { Logger } from "../telemetry/logger.js";
import { markerFor, reachedKey } from "./rejected-requests.js";

/** The Content-Types of gRPC and gRPC-Web, which accept every method kind. */
const GRPC_TYPES = "application/grpc[+proto|+json], application/grpc-web[+proto|+json]";
/** Every Content-Type some protocol of this server accepts, for error messages. */
const EXPECTED_TYPES = `application/json or application/proto (Connect unary), application/connect+json or application/connect+proto (Connect streaming), ${GRPC_TYPES}`;

/** The Content-Types one procedure accepts: Connect frames streams (connect+json), not unary calls. */
function expectedTypesOf(handler: UniversalHandler): string {
  return handler.method.methodKind === "unary"
    ? `application/json or application/proto (Connect), ${GRPC_TYPES}`
    : `application/connect+json or application/connect+proto (Connect, enveloped messages), ${GRPC_TYPES}`;
}

/** "WatchAccount, a server-streaming method" or "CreateAccount": what the messages call the procedure. */
function describeMethod(handler: UniversalHandler): string {
  const kind = handler.method.methodKind;
  return kind === "unary" ? handler.method.name : `${handler.method.name}, a ${kind.replace("_", "-")} method`;
}
const ENCODING_HEADERS = ["content-encoding", "connect-content-encoding", "grpc-encoding", "connect-accept-encoding", "grpc-accept-encoding"];
const GRPC = /^application\/grpc(?!-web)/;

export interface ConnectPluginOptions extends ConnectRouterOptions {
  routes: (router: ReturnType<typeof createConnectRouter>) => void;
  logger: Logger;
}

/**
 * The log line of a refusal the interceptors did not see (its count is rejected-requests.ts's,
 * from the request's unset marker).
 */
function logRefusal(logger: Logger, request: FastifyRequest, requestId: string, status: string, procedure: string) {
  logger.info({ requestId, procedure, protocol: (request.headers["content-type"] ?? "").split(";")[0], status, peer: request.ip }, "rpc refused");
}

/** Registers the routes in `app`'s scope. */
export function registerConnectRoutes(app: FastifyInstance, options: ConnectPluginOptions): void {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  const { logger } = options;
  const recordRefusal = (request: FastifyRequest, requestId: string, status: string, procedure: string) =>
    logRefusal(logger, request, requestId, status, procedure);

  // Bodies are read by connect-es from the raw request; these parsers only let them through.
  // Fastify's own JSON parser would answer bad JSON in its own format, before connect-es.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, _payload, done) => done(null, undefined));

  for (const handler of router.handlers) {
    app.all(handler.requestPath, async (request, reply) => {
      const requestId = requestIdOf(request.headers["x-request-id"] as string | undefined ?? null);
      reply.raw.setHeader("x-request-id", requestId);
      const procedure = procedureOf(handler.service, handler.method);
      const marker = markerFor(request);
      const contentType = request.headers["content-type"] ?? "";
      // connect-es answers these with an empty body; here they carry a catalogue code and say what to send.
      if (!handler.allowedMethods.includes(request.method)) {
        const get = handler.allowedMethods.includes("GET") ? ", or GET with ?encoding=json&message=<URL-encoded JSON> (Connect)" : "";
        recordRefusal(request, requestId, "UNIMPLEMENTED", procedure);
        reply.header("allow", handler.allowedMethods.join(", "));
        const error = catalogueError(
          EdgeErrorCode.METHOD_NOT_ALLOWED,
          `${excerpt(request.method)} is not allowed on ${handler.requestPath}: send POST with Content-Type ${expectedTypesOf(handler)}${get}`,
        );
        return sendError(reply, error, contentType, httpStatusOf(EdgeErrorCode.METHOD_NOT_ALLOWED));
      }
      if (request.method === "GET" && !/^(json|proto)$/.test(String((request.query as Record<string, unknown>).encoding ?? ""))) {
        recordRefusal(request, requestId, "INVALID_ARGUMENT", procedure);
        const error = catalogueError(
          EdgeErrorCode.UNSUPPORTED_MEDIA_TYPE,
          `a Connect GET names its encoding in the query: ?encoding=json&message=<URL-encoded JSON> (or encoding=proto&base64=1&message=<base64>); or POST with Content-Type ${expectedTypesOf(handler)}`,
        );
        return sendError(reply, error, contentType, httpStatusOf(EdgeErrorCode.UNSUPPORTED_MEDIA_TYPE));
      }
      if (request.method === "POST" && !handler.supportedContentType(contentType)) {
        const why = contentType ? `unsupported Content-Type "${excerpt(contentType)}"` : "missing Content-Type";
        recordRefusal(request, requestId, "INVALID_ARGUMENT", procedure);
        const error = catalogueError(EdgeErrorCode.UNSUPPORTED_MEDIA_TYPE, `${why} for ${describeMethod(handler)}: expected ${expectedTypesOf(handler)}`);
        return sendError(reply, error, contentType, httpStatusOf(EdgeErrorCode.UNSUPPORTED_MEDIA_TYPE));
      }
      for (const name of ENCODING_HEADERS) {
        const value = request.raw.headers[name];
        if (typeof value === "string") request.raw.headers[name] = value.toLowerCase();
      }
      // Answered before its body was read (e.g. over READ_MAX_BYTES, also by gRPC-Web, whose body
      // connect-es reads while it responds): read the rest, bounded, so that an HTTP/1.1 client
      // still sending gets the answer instead of a reset.
      reply.raw.once("finish", () => {
        if (!request.raw.complete) void drain(request.raw);
      });
      // Interceptors see no socket; the peer address keys per-IP rate limits of anonymous callers.
      const contextValues = createContextValues().set(peerAddressKey, request.ip).set(requestIdKey, requestId).set(reachedKey, marker);
      try {
        const universal = universalRequestFromNodeRequest(request.raw, reply.raw, undefined, contextValues);
        // connect-node iterates the request with `for await`, which destroys the stream (and, over
        // HTTP/1.1, the socket) when it stops early, e.g. at a gRPC-Web frame over READ_MAX_BYTES:
        // a client still sending then sees ECONNRESET instead of resource_exhausted. Stopping
        // without destroying leaves the rest to drain() (bounded) once the answer is out.
        universal.body = request.raw.iterator({ destroyOnReturn: false });
        const response = await handler(universal);
        const detailed = marker.reached ? response : await withErrorDetail(response);

        // connect-node's writer waits for an "end" event that a ServerResponse never emits, so
        // its promise may never settle: the response's "close" says when it is done.
        // Headers set by Fastify hooks (CORS) live on the reply until copied to the raw response.
        for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(name, value);
        const closed = new Promise((resolve) => reply.raw.once("close", resolve));
        const writing = universalResponseToNodeResponse(detailed, reply.raw);
        writing.catch((error: unknown) => {
          if (ConnectError.from(error).code !== Code.Aborted) logger.warn({ err: error, requestId, procedure }, "response not completed");
        });
        await Promise.race([writing, closed]);
        if (!marker.reached) recordRefusal(request, requestId, statusOf(detailed), procedure);
      } catch (error) {
        if (ConnectError.from(error).code === Code.Aborted) return;
        logger.warn({ err: error, requestId, procedure }, "response not completed");
      }
    });
  }

}

/**
 * Unknown paths answer in the Connect (or gRPC) error format. Set on the root instance: a
 * not-found handler set inside the Connect routes' scope would not apply outside it.
 */
export function registerUnknownRoutes(app: FastifyInstance, logger: Logger): void {
  app.setNotFoundHandler((request, reply) => {
    markerFor(request);
    const requestId = requestIdOf((request.headers["x-request-id"] as string | undefined) ?? null);
    reply.raw.setHeader("x-request-id", requestId);
    const path = excerpt(request.url.split("?")[0] ?? "");
    logRefusal(logger, request, requestId, "UNIMPLEMENTED", "unknown");
    const error = catalogueError(EdgeErrorCode.UNKNOWN_ROUTE, `no procedure or page at ${request.method} ${path}: procedures are POST /package.Service/Method with Content-Type ${EXPECTED_TYPES}`);
    return sendError(reply, error, request.headers["content-type"] ?? "", httpStatusOf(EdgeErrorCode.UNKNOWN_ROUTE));
  });
}

/** Bytes and time a refused request's unread body may still take before its connection is dropped. */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
const DRAIN_MAX_MS = 10_000;

async function drain(body: NodeJS.ReadableStream & { destroy(): void }): Promise<void> {
  let bytes = 0;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      stop();
      body.destroy();
    }, DRAIN_MAX_MS);
    function stop() {
      clearTimeout(timer);
      body.removeListener("data", count);
      resolve();
    }
    function count(chunk: Buffer) {
      bytes += chunk.length;
      if (bytes > DRAIN_MAX_BYTES) {
        stop();
        body.destroy();
      }
    }
    body.on("data", count);
    body.once("end", stop);
    body.once("error", stop);
    body.once("close", stop);
    body.resume();
  });
}

/** Answers with `error` in the caller's protocol: gRPC trailers-only, else the Connect JSON format. */
function sendError(reply: FastifyReply, error: ConnectError, contentType: string, httpStatus?: number) {
  if (GRPC.test(contentType)) {
    const trailer = new Headers();
    setTrailerStatus(trailer, error);
    const headers: Record<string, string> = { "content-type": "application/grpc" };
    trailer.forEach((value, name) => (headers[name] = value));
    reply.raw.writeHead(200, headers);
    reply.raw.end();
    return reply.hijack();
  }
  const status = httpStatus ?? codeToHttpStatus(error.code);
  return reply.code(status).header("content-type", "application/json").send(Buffer.from(errorToJsonBytes(error, {})));
}

/** grpc-status (trailers-only or trailer) or the Connect HTTP status, for the log and the metric. */
function statusOf(response: UniversalServerResponse): string {
  const grpc = response.header?.get("grpc-status") ?? response.trailer?.get("grpc-status");
  if (grpc) return grpc === "0" ? "OK" : (Code[Number(grpc)] ?? grpc);
  return String(response.status);
}

/**
 * Adds the catalogue's ErrorDetail to an error the framework answered without the interceptors:
 * a Connect unary JSON error body, or gRPC status trailers (also trailers-only). gRPC-Web keeps its
 * status in a body frame, which is passed on as it is.
 */
async function withErrorDetail(response: UniversalServerResponse): Promise<UniversalServerResponse> {
  const header = new Headers(response.header);
  const grpcStatus = (target: Headers) => {
    const status = Number(target.get("grpc-status") ?? 0);
    if (status === 0 || target.has("grpc-status-details-bin")) return;
    const error = withDetail(new ConnectError(decodeURIComponent(target.get("grpc-message") ?? ""), status as Code));
    target.delete("grpc-message");
    setTrailerStatus(target, error);
  };
  grpcStatus(header);
  if (response.trailer) {
    const { trailer, body } = response;
    const wrapped = body && Symbol.asyncIterator in body
      ? (async function* () {
          yield* body as AsyncIterable<Uint8Array>;
          grpcStatus(trailer);
        })()
      : body;
    return { ...response, header, body: wrapped };
  }
  if (response.status >= 400 && header.get("content-type") === "application/json" && !header.has("content-encoding")) {
    const bytes = await connectErrorWithDetail(response.body as AsyncIterable<Uint8Array>);
    header.set("content-length", String(bytes.byteLength));
    return { ...response, header, body: (async function* () { yield bytes; })() };
  }
  return { ...response, header };
}

/** The Connect JSON error body with an ErrorDetail added when it has none. */
async function connectErrorWithDetail(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  const json = JSON.parse(bytes.toString("utf8")) as { code?: string; message?: string; details?: unknown[] };
  if (json.details) return bytes;
  const code = codeFromString(json.code ?? "") ?? Code.Unknown;
  return errorToJsonBytes(withDetail(new ConnectError(json.message ?? "", code)), {});
}
