/**
 * The Connect routes: @connectrpc/connect-fastify's own plugin, with what the edge needs around it
 * added through Fastify's hooks and the router's handlers (nothing of the adapter is copied, so
 * upgrades of the Connect packages come with their fixes):
 *
 * - Every request gets a request id (`x-request-id`) and a marker (rejected-requests.ts) in
 *   `onRequest`; requests the framework refuses before any interceptor runs still get a log line
 *   (`onResponse`) and a count in `rpc.server.rejected_requests`.
 * - `preHandler` refuses, in the Connect (or gRPC) error format with a catalogue code, what
 *   connect-es answers with an empty body or a self-contradicting message: a method other than the
 *   procedure allows (405), a GET without `encoding`, a POST without or with a wrong Content-Type
 *   (415, naming the types this procedure takes). A POST without a Content-Type would otherwise be
 *   taken as JSON when only one protocol accepts POST.
 * - Content codings are matched case-insensitively (`GZIP`), as HTTP has them.
 * - Errors connect-es answers itself (undecodable, oversize, bad compression) get the catalogue's
 *   ErrorDetail: the plugin serves `router.handlers`, which the `routes` callback below wraps.
 *
 * Decoding errors themselves are made client errors where they happen, in connect-es and
 * protobuf-es (patches/, applied by `patch-package` on install). Do not wrap the plugin with
 * fastify-plugin: its content-type parsers belong to its own scope.
 */
import { createContextKey, createContextValues, type ConnectRouter, type ConnectRouterOptions } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { catalogueError, EdgeErrorCode, excerpt, httpStatusOf } from "../api/error-catalogue.js";
import { requestIdOf } from "../api/error-mapping.js";
import { procedureOf } from "../api/procedures.js";
import { requestIdKey } from "../api/request-context.js";
import { peerAddressKey } from "../limits/rate-limit-interceptor.js";
import type { Logger } from "../telemetry/logger.js";
import { drainUnread } from "./drain.js";
import { GRPC_TYPES, logRefusal, sendError, statusOf, withErrorDetail } from "./edge-responses.js";
import { markerFor, reachedKey } from "./rejected-requests.js";

const ENCODING_HEADERS = ["content-encoding", "connect-content-encoding", "grpc-encoding", "connect-accept-encoding", "grpc-accept-encoding"];

export interface ConnectRoutesOptions extends ConnectRouterOptions {
  routes: (router: ConnectRouter) => void;
  logger: Logger;
}

/** What the edge knows about one request of a Connect route, from `onRequest` on. */
interface EdgeRequest {
  requestId: string;
  marker: ReturnType<typeof markerFor>;
  /** The answer connect-es gave when it answered without the interceptors. */
  refusal?: UniversalServerResponse;
}

const edgeRequests = new WeakMap<object, EdgeRequest>();

/** The Node request behind a Connect call, for the wrapped handlers (see bodyOf). */
const nodeRequestKey = createContextKey<FastifyRequest["raw"] | undefined>(undefined, { description: "node request" });

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

/**
 * The refusal connect-es would give with an empty body or a misleading message, as a catalogue
 * error, or undefined when the request may go on.
 */
function refusalOf(request: FastifyRequest, handler: UniversalHandler) {
  const contentType = request.headers["content-type"] ?? "";
  if (!handler.allowedMethods.includes(request.method)) {
    const get = handler.allowedMethods.includes("GET") ? ", or GET with ?encoding=json&message=<URL-encoded JSON> (Connect)" : "";
    const message = `${excerpt(request.method)} is not allowed on ${handler.requestPath}: send POST with Content-Type ${expectedTypesOf(handler)}${get}`;
    return { status: "UNIMPLEMENTED", code: EdgeErrorCode.METHOD_NOT_ALLOWED, message };
  }
  if (request.method === "GET" && !/^(json|proto)$/.test(String((request.query as Record<string, unknown>).encoding ?? ""))) {
    const message = `a Connect GET names its encoding in the query: ?encoding=json&message=<URL-encoded JSON> (or encoding=proto&base64=1&message=<base64>); or POST with Content-Type ${expectedTypesOf(handler)}`;
    return { status: "INVALID_ARGUMENT", code: EdgeErrorCode.UNSUPPORTED_MEDIA_TYPE, message };
  }
  if (request.method === "POST" && !handler.supportedContentType(contentType)) {
    const why = contentType ? `unsupported Content-Type "${excerpt(contentType)}"` : "missing Content-Type";
    return { status: "INVALID_ARGUMENT", code: EdgeErrorCode.UNSUPPORTED_MEDIA_TYPE, message: `${why} for ${describeMethod(handler)}: expected ${expectedTypesOf(handler)}` };
  }
  return undefined;
}

/**
 * `handler` with the catalogue's ErrorDetail added to the errors connect-es answers without the
 * interceptors, and a request body that does not destroy the socket when connect-es stops reading
 * early: connect-node iterates the request with `for await`, which destroys the stream (and, over
 * HTTP/1.1, the socket) when it stops, e.g. at a gRPC-Web frame over READ_MAX_BYTES; a client still
 * sending would see ECONNRESET instead of resource_exhausted. drainUnread() reads the rest, bounded.
 */
function wrapHandler(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (request: Parameters<UniversalHandler>[0]) => {
    const nodeRequest = request.contextValues?.get(nodeRequestKey);
    if (nodeRequest && typeof request.body === "object" && request.body !== null && Symbol.asyncIterator in request.body) {
      request = { ...request, body: nodeRequest.iterator({ destroyOnReturn: false }) };
    }
    const response = await handler(request);
    const edge = nodeRequest && edgeRequests.get(nodeRequest);
    if (!edge || edge.marker.reached) return response;
    edge.refusal = await withErrorDetail(response);
    return edge.refusal;
  };
  return Object.assign(wrapped, handler);
}

/** Registers the Connect routes with their edge behaviours in `scope` (a scope of their own). */
export async function registerConnectRoutes(scope: FastifyInstance, options: ConnectRoutesOptions): Promise<void> {
  const { routes, logger, ...routerOptions } = options;
  const handlers = new Map<string, UniversalHandler>();

  // Bodies are read by connect-es from the raw request; a catch-all parser lets every type
  // through to preHandler, which names the right ones (Fastify would answer 415 in its own format).
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser("*", (_request, _payload, done) => done(null, undefined));

  // The hooks take `done` rather than being async: they run on every request, and an async hook
  // costs a promise and a turn of the microtask queue even when it has nothing to do.
  scope.addHook("onRequest", (request, reply, done) => {
    const requestId = requestIdOf((request.headers["x-request-id"] as string | undefined) ?? null);
    edgeRequests.set(request.raw, { requestId, marker: markerFor(request) });
    reply.header("x-request-id", requestId);
    done();
  });

  // A refusal returns the reply it sent (Fastify then stops) instead of calling `done`.
  scope.addHook("preHandler", (request, reply, done) => {
    const handler = handlers.get(request.routeOptions.url ?? "");
    const edge = edgeRequests.get(request.raw);
    if (!handler || !edge) return done();
    const refusal = refusalOf(request, handler);
    if (!refusal) {
      for (const name of ENCODING_HEADERS) {
        const value = request.raw.headers[name];
        if (typeof value === "string") request.raw.headers[name] = value.toLowerCase();
      }
      // Answered before its body was read (e.g. over READ_MAX_BYTES, also by gRPC-Web, whose body
      // connect-es reads while it responds): read the rest, bounded (drain.ts).
      reply.raw.once("finish", () => {
        if (!request.raw.complete) void drainUnread(request.raw);
      });
      return done();
    }
    logRefusal(logger, request, edge.requestId, refusal.status, procedureOf(handler.service, handler.method));
    if (refusal.code === EdgeErrorCode.METHOD_NOT_ALLOWED) reply.header("allow", handler.allowedMethods.join(", "));
    const error = catalogueError(refusal.code, refusal.message);
    return sendError(reply, error, request.headers["content-type"] ?? "", httpStatusOf(refusal.code));
  });

  scope.addHook("onResponse", (request, _reply, done) => {
    const edge = edgeRequests.get(request.raw);
    const handler = handlers.get(request.routeOptions.url ?? "");
    if (edge?.refusal && !edge.marker.reached && handler) {
      logRefusal(logger, request, edge.requestId, statusOf(edge.refusal), procedureOf(handler.service, handler.method));
    }
    done();
  });

  await scope.register(fastifyConnectPlugin, {
    ...routerOptions,
    routes(router) {
      routes(router);
      // The plugin serves router.handlers, read after this callback returns.
      router.handlers.forEach((handler, index) => {
        handlers.set(handler.requestPath, handler);
        router.handlers[index] = wrapHandler(handler);
      });
    },
    // Interceptors see no socket; the peer address keys per-IP rate limits of anonymous callers.
    contextValues(request) {
      const edge = edgeRequests.get(request.raw);
      const values = createContextValues().set(peerAddressKey, request.ip).set(nodeRequestKey, request.raw);
      return edge ? values.set(requestIdKey, edge.requestId).set(reachedKey, edge.marker) : values;
    },
  });
}
