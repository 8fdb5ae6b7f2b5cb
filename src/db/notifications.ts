/** LISTEN on either backend, with one callback shape. */
import type { DatabaseHandle } from "./client.js";

/**
 * Calls `onNotify` with each notification's payload on `channel`, and `onReconnect` whenever the
 * listening connection was re-established (notifications sent meanwhile are lost: re-read state).
 * PostgreSQL: a dedicated postgres.js connection that reconnects by itself. PGlite: in-process.
 * Resolves to a function that stops listening.
 */
export async function listenOn(
  handle: DatabaseHandle,
  channel: string,
  onNotify: (payload: string) => void,
  onReconnect: () => void,
): Promise<() => Promise<void>> {
  if (handle.postgresClient) {
    const request = await handle.postgresClient.listen(channel, onNotify, onReconnect);
    return () => request.unlisten();
  }
  if (handle.pglite) {
    const unlisten = await handle.pglite.listen(channel, onNotify);
    return () => unlisten();
  }
  return async () => {};
}
