/**
 * One socket write per HTTP/1.1 response instead of two. Connect's Node adapter answers a unary call
 * with `writeHead`, `write(body)` and, a few microtasks later, `end()`: the status line, headers and
 * body leave in one write and the chunked-encoding terminator in a second one (under a trickle of
 * single payments the service's socket writes were its largest cost, docs/profile.md). Corking the
 * socket when the head is written holds both until `end()`, which uncorks; the uncork on the next
 * turn of the event loop bounds the hold for responses that stream (their first message waits at
 * most that turn) or that wait for the socket to drain.
 */
import type { ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";

/** Adds the hook to `app`: every HTTP/1.1 response of every route. HTTP/2 streams are left as they are. */
export function coalesceResponseWrites(app: FastifyInstance): void {
  app.addHook("onRequest", (request, reply, done) => {
    if (request.raw.httpVersionMajor === 1) corkOnHead(reply.raw as ServerResponse);
    done();
  });
}

function corkOnHead(response: ServerResponse): void {
  const writeHead = response.writeHead;
  response.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse["writeHead"]>) {
    response.writeHead = writeHead;
    response.cork();
    setImmediate(() => response.uncork());
    return writeHead.apply(this, args);
  } as ServerResponse["writeHead"];
}
