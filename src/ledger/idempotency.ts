/**
 * Idempotency keys with Stripe semantics. ledger_apply (drizzle/functions/30-ledger-apply.sql)
 * claims the key row and stores the result in the same transaction as the command, so:
 * - a replay (same key, same request) returns the stored result and moves nothing;
 * - the same key with a different request fails with IDEMPOTENCY_KEY_REUSED;
 * - a concurrent duplicate waits on the key's unique index until the first commits, then replays
 *   its result (or takes over the key if the first rolled back).
 * Keys expire after a TTL; an expired key may be reused, and `sweepExpiredKeys` deletes them.
 */
import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import { deleteInBatches } from "../db/batched-delete.js";
import type { Database } from "../db/client.js";
import { idempotencyKeys } from "../db/schema.js";
import { LedgerError, LedgerErrorCode } from "./ledger-error.js";
import { fromStoredJson } from "./stored-json.js";

/** Who used which key for which operation. Keys are scoped per client. */
export interface IdempotencyScope {
  clientId: string;
  key: string;
  /** Operation name, e.g. "AuthorizePayment": one key cannot serve two operations. */
  method: string;
}

/** SHA-256 over the operation name and the request fields, in a canonical order. */
export function requestFingerprint(method: string, request: Record<string, string | bigint>): string {
  const canonical = Object.keys(request)
    .sort()
    .map((name) => [name, String(request[name])]);
  return createHash("sha256").update(JSON.stringify([method, canonical])).digest("hex");
}

/** A live key as stored: who used it for what, and the result of that first request. */
export interface StoredKey {
  method: string;
  requestHash: string;
  result: unknown;
}

/**
 * The replay of a live key: its stored result when `fingerprint` is the same request, else
 * IDEMPOTENCY_KEY_REUSED.
 */
export function replayStoredResult<T>(scope: IdempotencyScope, fingerprint: string, existing: StoredKey | undefined): T {
  if (!existing || existing.result === null) {
    // Unreachable while key and result are written in one transaction; fail loudly if not.
    throw new Error(`idempotency key ${scope.key} has no stored result`);
  }
  if (existing.method !== scope.method || existing.requestHash !== fingerprint) {
    throw new LedgerError(
      LedgerErrorCode.IDEMPOTENCY_KEY_REUSED,
      `idempotency_key: "${scope.key}" was already used for a different ${existing.method} request; use a new key`,
      "idempotency_key",
    );
  }
  return fromStoredJson<T>(existing.result);
}

/** Deletes expired keys in batches; returns how many were deleted. */
export async function sweepExpiredKeys(db: Database): Promise<number> {
  return deleteInBatches(db, idempotencyKeys, sql`${idempotencyKeys.expiresAt} < now()`);
}
