/**
 * Idempotency keys with Stripe semantics. The key row is claimed first inside the operation's
 * transaction and completed with the result in the same transaction, so:
 * - a replay (same key, same request) returns the stored result and moves nothing;
 * - the same key with a different request fails with IDEMPOTENCY_KEY_REUSED;
 * - a concurrent duplicate waits on the key's unique index until the first commits, then replays
 *   its result (or takes over the key if the first rolled back).
 * Keys expire after a TTL; an expired key may be reused, and `sweepExpiredKeys` deletes them.
 */
import { createHash } from "node:crypto";
import { and, eq, lte, sql } from "drizzle-orm";
import { deleteInBatches } from "../db/batched-delete.js";
import type { Database, Transaction } from "../db/client.js";
import { idempotencyKeys } from "../db/schema.js";
import { LedgerError, LedgerErrorCode } from "./ledger-error.js";
import { fromStoredJson, toStoredJson } from "./stored-json.js";
import { retryTransient } from "./transient-retry.js";

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

/**
 * Claims the key within `tx`. Returns `undefined` when this request owns the key and must do the
 * work, or the stored result of the earlier identical request.
 */
export async function claimIdempotencyKey<T>(
  tx: Transaction,
  scope: IdempotencyScope,
  fingerprint: string,
  ttlHours: number,
): Promise<T | undefined> {
  const expiresAt = sql`now() + make_interval(hours => ${ttlHours})`;
  const claimed = await tx
    .insert(idempotencyKeys)
    .values({ ...scope, requestHash: fingerprint, expiresAt })
    .onConflictDoUpdate({
      target: [idempotencyKeys.clientId, idempotencyKeys.key],
      set: { method: scope.method, requestHash: fingerprint, result: null, createdAt: sql`now()`, expiresAt },
      setWhere: lte(idempotencyKeys.expiresAt, sql`now()`),
    })
    .returning({ key: idempotencyKeys.key });
  if (claimed.length > 0) return undefined;

  const [existing] = await tx
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.clientId, scope.clientId), eq(idempotencyKeys.key, scope.key)));
  return replayStoredResult<T>(scope, fingerprint, existing);
}

/** A live key as stored: who used it for what, and the result of that first request. */
export interface StoredKey {
  method: string;
  requestHash: string;
  result: unknown;
}

/**
 * The replay of a live key: its stored result when `fingerprint` is the same request, else
 * IDEMPOTENCY_KEY_REUSED. Shared by the transactional path and the batched payment path.
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

/** Stores the result for the claimed key, in the same transaction as the work. */
export async function completeIdempotencyKey(tx: Transaction, scope: IdempotencyScope, result: unknown): Promise<void> {
  await tx
    .update(idempotencyKeys)
    .set({ result: toStoredJson(result) })
    .where(and(eq(idempotencyKeys.clientId, scope.clientId), eq(idempotencyKeys.key, scope.key)));
}

/**
 * Runs `work` exactly once per idempotency key: in one transaction (retried on transient
 * conflicts) that claims the key, does the work and stores its result; or replays the result.
 */
export async function withIdempotency<T>(
  db: Database,
  scope: IdempotencyScope,
  fingerprint: string,
  ttlHours: number,
  work: (tx: Transaction) => Promise<T>,
): Promise<T> {
  return retryTransient(() =>
    db.transaction(async (tx) => {
      const replay = await claimIdempotencyKey<T>(tx, scope, fingerprint, ttlHours);
      if (replay !== undefined) return replay;
      const result = await work(tx);
      await completeIdempotencyKey(tx, scope, result);
      return result;
    }),
  );
}

/** Deletes expired keys in batches; returns how many were deleted. */
export async function sweepExpiredKeys(db: Database): Promise<number> {
  return deleteInBatches(db, idempotencyKeys, sql`${idempotencyKeys.expiresAt} < now()`);
}
