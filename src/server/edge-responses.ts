/**
 * The answers the edge gives itself, in the caller's protocol, for requests that never reach the
 * interceptors: refusals before the Connect handler (wrong method or Content-Type, unknown route)
 * and errors connect-es answered without them (undecodable or oversize bodies, bad compression),
 * which get the catalogue's ErrorDetail here like every other error.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromString, codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { catalogueError, EdgeErrorCode, excerpt, httpStatusOf } from "../api/error-catalogue.js";
import { requestIdOf, withDetail } from "../api/error-mapping.js";
import type { Logger } from "../telemetry/logger.js";
import { markerFor } from "./rejected-requests.js";

/** The Content-Types of gRPC and gRPC-Web, which accept every method kind. */
export const GRPC_TYPES = "application/grpc[+proto|+json], application/grpc-web[+proto|+json]";
/** Every Content-Type some protocol of this server accepts, for error messages. */
const EXPECTED_TYPES = `application/json or application/proto (Connect unary), application/connect+json or application/connect+proto (Connect streaming), ${GRPC_TYPES}`;
const GRPC = /^application\/grpc(?!-web)/;

/**
 * The log line of a refusal the interceptors did not see (its count is rejected-requests.ts's,
 * from the request's unset marker).
 */
export function logRefusal(logger: Logger, request: FastifyRequest, requestId: string, status: string, procedure: string) {
  logger.info({ requestId, procedure, protocol: (request.headers["content-type"] ?? "").split(";")[0], status, peer: request.ip }, "rpc refused");
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

/** Answers with `error` in the caller's protocol: gRPC trailers-only, else the Connect JSON format. */
export function sendError(reply: FastifyReply, error: ConnectError, contentType: string, httpStatus?: number) {
  if (GRPC.test(contentType)) {
    const trailer = new Headers();
    setTrailerStatus(trailer, error);
    const headers: Record<string, string> = { "content-type": "application/grpc" };
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = String(value);
    trailer.forEach((value, name) => (headers[name] = value));
    reply.hijack();
    reply.raw.writeHead(200, headers);
    reply.raw.end();
    return reply;
  }
  const status = httpStatus ?? codeToHttpStatus(error.code);
  return reply.code(status).header("content-type", "application/json").send(Buffer.from(errorToJsonBytes(error, {})));
}

/** grpc-status (trailers-only or trailer) or the Connect HTTP status, for the log and the metric. */
export function statusOf(response: UniversalServerResponse): string {
  const grpc = response.header?.get("grpc-status") ?? response.trailer?.get("grpc-status");
  if (grpc) return grpc === "0" ? "OK" : (Code[Number(grpc)] ?? grpc);
  return String(response.status);
}

/**
 * Adds the catalogue's ErrorDetail to an error the framework answered without the interceptors:
 * a Connect unary JSON error body, or gRPC status trailers (also trailers-only). gRPC-Web keeps its
 * status in a body frame, which is passed on as it is.
 */
export async function withErrorDetail(response: UniversalServerResponse): Promise<UniversalServerResponse> {
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
