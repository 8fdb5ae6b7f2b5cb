/**
 * Read-your-writes with a read replica: this process remembers when each client's last write
 * through it finished, and hands that time to the client's reads (context value `lastWriteKey`),
 * so that the ledger reads from the replica only once it has replayed past that write
 * (src/db/read-replica.ts). Writes through another instance are not known here: within
 * READ_MAX_STALENESS_MS of such a write, read through the same instance (README, "Reads from a replica").
 */
import { createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { ReadConsistency } from "../ledger/ledger.js";
import { clientIdKey } from "./request-context.js";

/** performance.now() of the calling client's last write through this process, if any. */
export const lastWriteKey = createContextKey<number | undefined>(undefined, { description: "the client's last write" });

/** Clients forgotten after this long: past any sane staleness bound, the replica has their writes. */
const REMEMBER_MS = 60_000;
const MAX_CLIENTS = 10_000;

export function recentWritesInterceptor(): Interceptor {
  const lastWrite = new Map<string, number>();
  return (next) => async (request) => {
    const clientId = request.contextValues.get(clientIdKey);
    const written = lastWrite.get(clientId);
    if (written !== undefined) request.contextValues.set(lastWriteKey, written);
    if (request.method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) return next(request);
    try {
      return await next(request);
    } finally {
      // Failed writes count too: an `unavailable` write may have committed.
      lastWrite.delete(clientId);
      lastWrite.set(clientId, performance.now());
      if (lastWrite.size > MAX_CLIENTS) {
        const horizon = performance.now() - REMEMBER_MS;
        for (const [client, at] of lastWrite) if (at < horizon || lastWrite.size > MAX_CLIENTS) lastWrite.delete(client);
      }
    }
  };
}

/** What a read handler passes to the ledger. */
export function readConsistencyOf(context: HandlerContext): ReadConsistency {
  return { writtenAt: context.values.get(lastWriteKey) };
}
