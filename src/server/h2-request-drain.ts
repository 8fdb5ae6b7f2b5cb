/**
 * HTTP/2 request bodies left unread after the response: read and dropped, bounded.
 *
 * An answer can be complete before its request is: a unary gRPC call with bytes after its message,
 * a message over READ_MAX_BYTES, an error found in the first frame. The framework then stops
 * reading, and Node's HTTP/2 server keeps the stream open until the body is read to its end (it
 * closes a stream early only when the body was never touched). The client, blocked by flow
 * control, never finishes; the stream stays open on the session, and once a few such streams hold
 * their windows and buffers the session refuses every new stream with RST_STREAM
 * ENHANCE_YOUR_CALM or INTERNAL_ERROR before any handler runs: innocent requests on the same
 * connection (issue 18: AuthorizePayment, DepositFunds, a malformed message) ended without a
 * gRPC status. HTTP/1.1 has the same drain in the Connect routes (connect-routes.ts); both are drain.ts.
 *
 * Past the bound the stream is closed with RST_STREAM NO_ERROR, which RFC 9113 section 8.1 gives
 * a server for exactly this: "stop sending, your response is complete".
 */
import http2 from "node:http2";
import { DRAIN_BOUNDS, drainUnread, type DrainBounds } from "./drain.js";

/**
 * For every HTTP/2 request of `server` (cleartext or TLS with allowHTTP1; HTTP/1.1 requests are
 * left alone): once its response is written, the rest of its body is read and dropped.
 */
export function drainHttp2RequestsAfterResponse(server: http2.Http2Server | http2.Http2SecureServer, bounds: DrainBounds = DRAIN_BOUNDS): void {
  server.prependListener("request", (request: http2.Http2ServerRequest) => {
    if (request.httpVersionMajor !== 2) return;
    const stream = request.stream;
    // The stream's writable side finishes when the response (headers, data, trailers) is handed to
    // nghttp2; by then the handler no longer reads the request.
    stream.once("finish", () => {
      if (request.complete) return;
      void drainUnread(request, () => {
        if (!stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
      }, bounds);
    });
  });
}
