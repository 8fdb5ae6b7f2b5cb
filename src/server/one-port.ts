/**
 * One cleartext port for every client: HTTP/1.1 (curl, browsers, gRPC-Web, Connect) and HTTP/2
 * with prior knowledge (gRPC, Connect over h2). Node cannot serve both on one cleartext server by
 * configuration (`allowHTTP1` needs TLS ALPN), so each new connection's first bytes are sniffed:
 * an HTTP/2 connection always opens with the preface "PRI * HTTP/2.0", which no HTTP/1 method
 * starts with. The bytes are put back and the socket handed to the matching server.
 */
import http from "node:http";
import http2 from "node:http2";
import type { Socket } from "node:net";
import { CONNECTION_TIMEOUT_DEFAULTS } from "../config/config.js";
import { drainHttp2RequestsAfterResponse } from "./h2-request-drain.js";

const PREFACE_START = Buffer.from("PRI");

/** Deliberate connection limits; the defaults suit a public API port. */
export interface ConnectionLimits {
  /** A new connection must send its first bytes within this time, or it is closed. */
  sniffTimeoutMs: number;
  /** An HTTP/2 session with no frames for this long is closed (this also bounds a session that never sends SETTINGS). */
  http2IdleTimeoutMs: number;
  /** Concurrent streams per HTTP/2 session (the HTTP/2 default is unlimited). */
  maxConcurrentStreams: number;
  /** Largest request header block, HTTP/1.1 and HTTP/2, in bytes. */
  maxHeaderBytes: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  ...CONNECTION_TIMEOUT_DEFAULTS,
  maxConcurrentStreams: 128,
  maxHeaderBytes: 16 * 1024,
};

/** An http.Server that also serves HTTP/2 prior-knowledge connections on the same port. */
export interface OnePortServer {
  /** Listen, close and address through this; it owns the port. */
  readonly server: http.Server;
  /**
   * Lets close() finish: sends GOAWAY to every HTTP/2 session (their streams still complete) and
   * drops connections that have not sent a byte yet, which no server owns and none would close.
   */
  closeConnections(): void;
}

/**
 * `handler` receives http.IncomingMessage for HTTP/1.1 and the compatible Http2ServerRequest for
 * HTTP/2 (Fastify and Connect handle both).
 */
export function createOnePortServer(handler: http.RequestListener, limits: Partial<ConnectionLimits> = {}): OnePortServer {
  const { sniffTimeoutMs, http2IdleTimeoutMs, maxConcurrentStreams, maxHeaderBytes } = { ...DEFAULT_CONNECTION_LIMITS, ...limits };
  const http1 = http.createServer({ maxHeaderSize: maxHeaderBytes }, handler);
  const h2c = http2.createServer(
    { settings: { maxConcurrentStreams, maxHeaderListSize: maxHeaderBytes }, maxSessionInvalidFrames: 100 },
    handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  );
  drainHttp2RequestsAfterResponse(h2c);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2c.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    session.setTimeout(http2IdleTimeoutMs, () => session.destroy());
  });

  const serveHttp1 = http1.listeners("connection")[0] as (socket: Socket) => void;
  const sniffing = new Set<Socket>();
  http1.removeAllListeners("connection");
  http1.on("connection", (socket: Socket) => {
    let head = Buffer.alloc(0);
    sniffing.add(socket);
    // Until a server owns the socket, a reset or a close without a request (a port probe) is
    // ours to clean up: otherwise the socket stays half-open and server.close() never finishes.
    const drop = () => {
      clearTimeout(timer);
      sniffing.delete(socket);
      socket.destroy();
    };
    const timer = setTimeout(drop, sniffTimeoutMs);
    const sniff = () => {
      for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
        head = Buffer.concat([head, chunk]);
      }
      if (head.length < PREFACE_START.length) return;
      clearTimeout(timer);
      sniffing.delete(socket);
      socket.off("readable", sniff);
      socket.off("error", drop);
      socket.off("end", drop);
      socket.unshift(head);
      if (head.subarray(0, PREFACE_START.length).equals(PREFACE_START)) {
        // A peer that closes its side (e.g. after the preface alone) is done with HTTP/2, which
        // never half-closes; without this the socket stays in CLOSE-WAIT (issue 13: 1,000 preface-only
        // connections took the server from 178 to 1,268 open descriptors, for good).
        socket.once("end", () => socket.destroy());
        h2c.emit("connection", socket);
        // The end may have come with the first bytes, before that listener existed.
        if (socket.readableEnded) socket.destroy();
      } else serveHttp1.call(http1, socket);
    };
    socket.on("error", drop);
    socket.on("end", drop);
    socket.on("readable", sniff);
  });

  return {
    server: http1,
    closeConnections() {
      for (const session of sessions) session.close();
      for (const socket of sniffing) socket.destroy();
      sniffing.clear();
    },
  };
}
