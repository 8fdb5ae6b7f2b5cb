/**
 * Reading the rest of a request body the server answered before reading it all (over
 * READ_MAX_BYTES, refused early, or bytes after a unary message): a client still sending then gets
 * the answer instead of a reset, and an HTTP/2 stream is released (h2-request-drain.ts). Bounded
 * in bytes and time; past either the caller's `overLimit` ends the body (HTTP/1.1 drops the
 * connection, HTTP/2 closes the stream with NO_ERROR).
 */
import type { Readable } from "node:stream";

export interface DrainBounds {
  maxBytes: number;
  maxMs: number;
}

/** Bytes and time a finished request's unread body may still take. */
export const DRAIN_BOUNDS: DrainBounds = { maxBytes: 64 * 1024 * 1024, maxMs: 10_000 };

/** Reads and discards what is left of `body`; resolves when it ended, failed, closed or went over a bound. */
export async function drainUnread(
  body: Readable,
  overLimit: () => void = () => body.destroy(),
  bounds: DrainBounds = DRAIN_BOUNDS,
): Promise<void> {
  let bytes = 0;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      stop();
      overLimit();
    }, bounds.maxMs);
    timer.unref();
    function stop() {
      clearTimeout(timer);
      body.removeListener("data", count);
      resolve();
    }
    function count(chunk: Buffer) {
      bytes += chunk.length;
      if (bytes > bounds.maxBytes) {
        stop();
        overLimit();
      }
    }
    body.on("data", count);
    body.once("end", stop);
    body.once("error", stop);
    body.once("close", stop);
    body.resume();
  });
}
