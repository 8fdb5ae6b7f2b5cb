/**
 * The HTTP server: Fastify hosting the Connect services on one port (see one-port.ts), or on a
 * TLS port with ALPN when a certificate is configured. Connect JSON and binary, gRPC and gRPC-Web
 * are all served on it.
 */
import { readFileSync } from "node:fs";
import type { Http2SecureServer } from "node:http2";
import type { ServerResponse } from "node:http";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { LogController, fastify, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "../telemetry/logger.js";
import { coalesceResponseWrites } from "./coalesced-writes.js";
import { registerConnectRoutes } from "./connect-routes.js";
import { registerUnknownRoutes } from "./edge-responses.js";
import { drainHttp2RequestsAfterResponse } from "./h2-request-drain.js";
import { createOnePortServer, type ConnectionLimits, type OnePortServer } from "./one-port.js";

export interface ServerOptions {
  host: string;
  port: number;
  /** Largest request message accepted, in bytes. */
  readMaxBytes: number;
  /** Upper bound on client deadlines. */
  maxTimeoutMs: number;
  tls?: { certFile: string; keyFile: string };
  logger: Logger;
  routes: (router: ConnectRouter) => void;
  interceptors: Interceptor[];
  /** Sniff and HTTP/2 limits of the cleartext one-port server (defaults: DEFAULT_CONNECTION_LIMITS). */
  connectionLimits?: Partial<ConnectionLimits>;
  /** Adds plain HTTP routes and hooks (probes, console, CORS) before the Connect routes. */
  configure?: (app: FastifyInstance) => void;
}

export interface RunningServer {
  readonly app: FastifyInstance;
  /** Base URL clients use, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting connections and resolves once in-flight requests are done. */
  close(): Promise<void>;
}

/** Builds the Fastify app with the Connect plugin and starts listening. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  let onePort: OnePortServer | undefined;
  // Per-request lines would double what the Connect interceptors log, at every request.
  const logController = new LogController({ disableRequestLogging: true });
  // Fastify makes a child logger per request (pino's asChindings: 2.2% of the service's CPU under
  // single-request load, docs/profile.md) only to bind its request id; the Connect interceptors
  // log with their own request id, so every request shares the root logger instead.
  const childLoggerFactory = (logger: FastifyBaseLogger) => logger;
  // The TLS variant has HTTP/2 raw types; only the server-agnostic API is used below.
  const app = (options.tls
    ? fastify({
        loggerInstance: options.logger,
        logController,
        childLoggerFactory,
        http2: true,
        https: {
          allowHTTP1: true,
          cert: readFileSync(options.tls.certFile),
          key: readFileSync(options.tls.keyFile),
        },
      })
    : fastify({
        loggerInstance: options.logger,
        logController,
        childLoggerFactory,
        serverFactory: (handler) => {
          onePort = createOnePortServer(handler, options.connectionLimits);
          return onePort.server;
        },
      })) as unknown as FastifyInstance;

  // The one-port server does this for its own HTTP/2 server.
  if (options.tls) drainHttp2RequestsAfterResponse(app.server as unknown as Http2SecureServer);
  options.configure?.(app);
  coalesceResponseWrites(app);
  // In its own scope: its catch-all content-type parser and hooks are for the Connect routes only.
  await app.register(async (scope) =>
    registerConnectRoutes(scope, {
      routes: options.routes,
      interceptors: options.interceptors,
      readMaxBytes: options.readMaxBytes,
      maxTimeoutMs: options.maxTimeoutMs,
      // Unknown JSON fields are client bugs (e.g. a misspelt amount): refuse them, don't drop them.
      jsonOptions: { ignoreUnknownFields: false },
      logger: options.logger,
    }),
  );
  // On the root: a not-found handler set in the child scope above applies only inside it.
  registerUnknownRoutes(app, options.logger);
  app.addHook("preClose", async () => onePort?.closeConnections());
  const http1InFlight = trackHttp1Responses(app);

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    app,
    url: `${options.tls ? "https" : "http"}://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`,
    port,
    close: () => {
      http1InFlight.closeAfterResponse();
      return app.close();
    },
  };
}

/**
 * HTTP/1.1 responses still being worked on. At shutdown each gets `Connection: close`: a keep-alive
 * client then opens its next request on a new connection (elsewhere) instead of sending it into a
 * socket we are about to close, which it would see as a reset. HTTP/2 sessions get GOAWAY instead
 * (one-port.ts). Requests arriving after close() get Fastify's own 503 with `Connection: close`.
 */
function trackHttp1Responses(app: FastifyInstance): { closeAfterResponse(): void } {
  const inFlight = new Set<ServerResponse>();
  let closing = false;
  app.addHook("onRequest", (request, reply, done) => {
    if (request.raw.httpVersionMajor === 1) {
      const response = reply.raw as ServerResponse;
      if (closing) response.setHeader("connection", "close");
      inFlight.add(response);
      response.once("close", () => inFlight.delete(response));
    }
    done();
  });
  return {
    closeAfterResponse() {
      closing = true;
      for (const response of inFlight) if (!response.headersSent) response.setHeader("connection", "close");
    },
  };
}
