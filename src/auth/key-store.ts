/**
 * Every API key this instance accepts: the configured ones (API_KEYS / API_KEYS_FILE, fixed for the
 * life of the process) and the stored ones (AdminService.CreateApiKey), held in memory as
 * hash -> grant so that authenticating a call reads no database.
 *
 * Revocation reaches every instance within a second: CreateApiKey and RevokeApiKey NOTIFY
 * `api_keys` with the key's id in their transaction (key-admin.ts), each instance LISTENs and
 * re-reads that key. A notification lost while the listening connection was down is covered by a
 * full reload on reconnect and by a periodic reload (KEY_RELOAD_INTERVAL_MS). Reads are applied
 * one at a time, in order, so a slow full reload that started before a revocation cannot put the
 * revoked key back after the notification's read removed it.
 */
import { createHash } from "node:crypto";
import { eq, isNull } from "drizzle-orm";
import type { DatabaseHandle } from "../db/client.js";
import { listenOn } from "../db/notifications.js";
import { apiKeys } from "../db/schema.js";
import type { Logger } from "../telemetry/logger.js";
import type { ApiKeyGrant, Scope } from "./api-keys.js";

/** The NOTIFY channel of key changes; the payload is the key's id. */
export const API_KEYS_CHANNEL = "api_keys";

/** Fallback full reload, for notifications lost while the listening connection was down. */
export const KEY_RELOAD_INTERVAL_MS = 10_000;

/** Returned while the stored keys have not been read yet (start-up): the caller should retry. */
export const NOT_LOADED = Symbol("stored keys not loaded");

/** How account tokens name the key that minted a configured grant: a digest, never the hash itself. */
export function configuredKeyRef(hash: string): string {
  return `cfg_${createHash("sha256").update(`token-key-ref:${hash}`).digest("hex").slice(0, 24)}`;
}

/** What a grant is made of (grantOf). */
const grantColumns = { id: apiKeys.id, tenantId: apiKeys.tenantId, clientId: apiKeys.clientId, scopes: apiKeys.scopes, keyHash: apiKeys.keyHash };
type StoredRow = { id: string; tenantId: string; clientId: string; scopes: string[]; keyHash: string };

export class KeyStore {
  /** Stored, unrevoked keys: hash -> grant (with keyId). */
  private stored = new Map<string, ApiKeyGrant>();
  /** The same grants by key id (account tokens name their key by id). */
  private storedById = new Map<string, ApiKeyGrant>();
  private readonly configuredByRef = new Map<string, ApiKeyGrant>();
  private loaded = false;
  /** Bumped whenever a read of the table was applied: what callers resolved before may be stale. */
  private version = 0;
  /** Every read of the table is applied in this order. */
  private queue: Promise<void> = Promise.resolve();
  private stopListening?: () => Promise<void>;
  private timer?: NodeJS.Timeout;
  private handle?: DatabaseHandle;
  private stopped = false;

  constructor(
    private readonly configured: ReadonlyMap<string, ApiKeyGrant>,
    private readonly logger: Logger,
  ) {
    for (const [hash, grant] of configured) this.configuredByRef.set(configuredKeyRef(hash), grant);
  }

  /** The configured keys (key-admin.ts keeps their client ids to their tenants). */
  get configuredGrants(): readonly ApiKeyGrant[] {
    return [...this.configured.values()];
  }

  /**
   * The grant of a key hash; NOT_LOADED until the stored keys were first read (start-up: the
   * database may not even be migrated yet), so that a stored key is told to retry, not refused.
   */
  grantOf(hash: string): ApiKeyGrant | undefined | typeof NOT_LOADED {
    const grant = this.configured.get(hash) ?? this.stored.get(hash);
    if (!grant && !this.loaded) return NOT_LOADED;
    return grant;
  }

  /** The live key an account token names (its keyRef), undefined when revoked or gone; NOT_LOADED as above. */
  grantOfRef(ref: string): ApiKeyGrant | undefined | typeof NOT_LOADED {
    if (ref.startsWith("cfg_")) return this.configuredByRef.get(ref);
    if (!this.loaded) return NOT_LOADED;
    return this.storedById.get(ref);
  }

  /**
   * Changes with every applied read of the stored keys (start-up, a notification, the periodic
   * reload): a grant looked up under one generation may be revoked under the next.
   */
  get generation(): number {
    return this.version;
  }

  /** Loads the stored keys, then follows changes. */
  async start(handle: DatabaseHandle, reloadIntervalMs = KEY_RELOAD_INTERVAL_MS): Promise<void> {
    this.handle = handle;
    await this.enqueue(() => this.reloadAll());
    this.stopListening = await listenOn(
      handle,
      API_KEYS_CHANNEL,
      (keyId) => void this.enqueue(() => this.reloadOne(keyId)),
      () => void this.enqueue(() => this.reloadAll()),
    );
    this.timer = setInterval(() => void this.enqueue(() => this.reloadAll()), reloadIntervalMs);
    this.timer.unref();
  }

  /** Stops following changes (before the database closes); idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const unlisten = this.stopListening;
    this.stopListening = undefined;
    await unlisten?.().catch(() => {});
    await this.queue;
  }

  private enqueue(read: () => Promise<void>): Promise<void> {
    if (this.stopped) return this.queue;
    this.queue = this.queue.then(read).catch((error: unknown) => {
      // The keys in memory stay as they were; the next notification or reload tries again.
      this.logger.warn({ err: error }, "could not read stored API keys: keeping the ones in memory");
    });
    return this.queue;
  }

  private async reloadAll(): Promise<void> {
    const rows = await this.handle!.db.select(grantColumns).from(apiKeys)
      .where(isNull(apiKeys.revokedAt));
    const grants = rows.map((row) => [row.keyHash, grantOf(row)] as const);
    this.stored = new Map(grants);
    this.storedById = new Map(grants.map(([, grant]) => [grant.keyId!, grant]));
    this.loaded = true;
    this.version += 1;
  }

  private async reloadOne(keyId: string): Promise<void> {
    const [row] = await this.handle!.db
      .select({ ...grantColumns, revokedAt: apiKeys.revokedAt })
      .from(apiKeys)
      .where(eq(apiKeys.id, keyId));
    this.version += 1;
    if (!row) return;
    if (row.revokedAt) {
      this.stored.delete(row.keyHash);
      this.storedById.delete(row.id);
    } else {
      const grant = grantOf(row);
      this.stored.set(row.keyHash, grant);
      this.storedById.set(row.id, grant);
    }
  }
}

function grantOf(row: StoredRow): ApiKeyGrant {
  return { clientId: row.clientId, tenantId: row.tenantId, scopes: new Set(row.scopes as Scope[]), keyId: row.id };
}
