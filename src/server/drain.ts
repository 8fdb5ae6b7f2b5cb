/**
 * Reading the rest of a request body the server answered before reading it all (over
 * READ_MAX_BYTES, or refused early): an HTTP/1.1 client still sending then gets the answer instead
 * of a reset. Bounded in bytes and time; past either the connection is dropped.
 */

/** Bytes and time a refused request's unread body may still take before its connection is dropped. */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
const DRAIN_MAX_MS = 10_000;

/** Reads and discards what is left of `body`; resolves when it ended or was destroyed. */
export async function drainUnread(body: NodeJS.ReadableStream & { destroy(): void }): Promise<void> {
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
