/**
 * Idempotency keys with Stripe semantics. ledger_apply (src/ledger/sql/30-ledger-apply.sql)
 * writes the key row with the result in the same transaction as the command, so:
 * - a replay (same key, same request) returns the stored result and moves nothing;
 * - the same key with a different request fails with IDEMPOTENCY_KEY_REUSED (decided in SQL,
 *   ledger_replay in src/ledger/sql/10-ledger-helpers.sql, from the fingerprint computed here);
 * - a concurrent duplicate waits on the key's unique index until the first commits; its batch is
 *   then rolled back and retried (serialization failure) and replays the first's result (or takes
 *   over the key if the first rolled back).
 * Keys expire after a TTL; an expired key may be reused, and `sweepExpiredKeys` deletes them.
 */
import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import { deleteInBatches } from "../db/batched-delete.js";
import type { Database } from "../db/client.js";
import { idempotencyKeys } from "../db/schema.js";

/** SHA-256 over the operation name and the request fields, in a canonical order. */
export function requestFingerprint(method: string, request: Record<string, string | bigint>): string {
  const canonical = Object.keys(request)
    .sort()
    .map((name) => [name, String(request[name])]);
  return createHash("sha256").update(JSON.stringify([method, canonical])).digest("hex");
}

/** Deletes expired keys in batches; returns how many were deleted. */
export async function sweepExpiredKeys(db: Database): Promise<number> {
  return deleteInBatches(db, idempotencyKeys, sql`${idempotencyKeys.expiresAt} < now()`);
}
