/**
 * AdminService's key calls against the `api_keys` table: CreateApiKey (the key is returned once,
 * only its SHA-256 is stored), ListApiKeys (keyset pages, newest first), RevokeApiKey (idempotent).
 * Every change NOTIFYs `api_keys` in its transaction, so that every instance's KeyStore re-reads
 * the key as soon as the change is committed.
 */
import { and, desc, eq, lt, ne, sql, type SQL } from "drizzle-orm";
import type { ApiKeyManagement, ApiKeyRecord } from "../api/access.js";
import { AccessErrorCode, catalogueError, excerpt } from "../api/error-catalogue.js";
import type { Database } from "../db/client.js";
import { apiKeys, DEFAULT_TENANT, tenants } from "../db/schema.js";
import { ulid } from "../ids/ulid.js";
import { invalidArgument } from "../ledger/ledger-error.js";
import { requireTenantId } from "../ledger/validation.js";
import { decodePageToken, pageOf, pageSizeOf } from "../ledger/page-token.js";
import { CLIENT_ID, GLOBAL_SCOPES, SCOPES, generateApiKey, hashApiKey, type ApiKeyGrant } from "./api-keys.js";
import { API_KEYS_CHANNEL } from "./key-store.js";

const columns = {
  keyId: apiKeys.id,
  tenantId: apiKeys.tenantId,
  clientId: apiKeys.clientId,
  scopes: apiKeys.scopes,
  createdAt: apiKeys.createdAt,
  revokedAt: apiKeys.revokedAt,
};

export class KeyAdmin implements ApiKeyManagement {
  /** `configured`: the keys of API_KEYS / API_KEYS_FILE, whose client ids are taken too. */
  constructor(
    private readonly db: Database,
    private readonly configured: readonly ApiKeyGrant[],
  ) {}

  async create(input: { tenantId: string; clientId: string; scopes: readonly string[] }): Promise<{ key: string; record: ApiKeyRecord }> {
    const { tenantId, clientId } = input;
    requireTenantId("tenant_id", tenantId);
    if (!CLIENT_ID.test(clientId)) throw invalidArgument("client_id", "must be 1-64 of A-Z a-z 0-9 _ . -");
    if (input.scopes.length === 0) throw invalidArgument("scopes", `must name at least one scope (known: ${SCOPES.join(", ")})`);
    const unknown = input.scopes.filter((scope) => !(SCOPES as readonly string[]).includes(scope));
    if (unknown.length > 0) throw invalidArgument("scopes", `unknown scope ${unknown.slice(0, 5).join(", ").slice(0, 128)} (known: ${SCOPES.join(", ")})`);
    const scopes = SCOPES.filter((scope) => input.scopes.includes(scope));
    // These two reach every tenant (VerifyLedger reads all, key calls name any tenant): a key of
    // one tenant with them would not be confined to it.
    const global = scopes.filter((scope) => (GLOBAL_SCOPES as readonly string[]).includes(scope));
    if (global.length > 0 && tenantId !== DEFAULT_TENANT) {
      throw invalidArgument("scopes", `${global.join(", ")} reach every tenant: only keys of the ${DEFAULT_TENANT} tenant (operators) may have them`);
    }

    for (const grant of this.configured) {
      if (grant.clientId === clientId && grant.tenantId !== tenantId) throw clientIdTaken(clientId);
    }
    const key = generateApiKey();
    const record = await this.db.transaction(async (tx) => {
      // Two tenants creating the same client id at once: one waits for the other and then sees it.
      await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`api_keys:${clientId}`}))`);
      const [tenant] = await tx.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId));
      if (!tenant) throw catalogueError(AccessErrorCode.TENANT_NOT_FOUND, `tenant_id: tenant ${tenantId} does not exist`, undefined, "tenant_id");
      // Revoked keys count: the client's idempotency keys and rate limits outlive its keys.
      const [other] = await tx
        .select({ id: apiKeys.id })
        .from(apiKeys)
        .where(and(eq(apiKeys.clientId, clientId), ne(apiKeys.tenantId, tenantId)))
        .limit(1);
      if (other) throw clientIdTaken(clientId);
      const [row] = await tx
        .insert(apiKeys)
        .values({ id: ulid(), tenantId, clientId, scopes, keyHash: hashApiKey(key) })
        .returning(columns);
      await tx.execute(sql`SELECT pg_notify(${API_KEYS_CHANNEL}, ${row!.keyId})`);
      return row!;
    });
    return { key, record };
  }

  async list(input: { tenantId: string; pageSize: number; pageToken: string }): Promise<{ items: ApiKeyRecord[]; nextPageToken: string }> {
    if (input.tenantId) requireTenantId("tenant_id", input.tenantId);
    const pageSize = pageSizeOf("page_size", input.pageSize);
    const filters = { apiKeys: input.tenantId };
    const after = decodePageToken("page_token", input.pageToken, filters, 1);
    const conditions: SQL[] = [];
    if (input.tenantId) conditions.push(eq(apiKeys.tenantId, input.tenantId));
    if (after) conditions.push(lt(apiKeys.id, after[0]!));
    // Ids are ULIDs: by id is by creation, and (tenant_id, id) is api_keys_tenant_idx.
    const rows = await this.db
      .select(columns)
      .from(apiKeys)
      .where(and(...conditions))
      .orderBy(desc(apiKeys.id))
      .limit(pageSize + 1);
    return pageOf(rows, pageSize, filters, (row) => [row.keyId]);
  }

  async revoke(keyId: string): Promise<ApiKeyRecord> {
    if (!keyId) throw invalidArgument("key_id", "is required");
    if (keyId.length > 64) throw invalidArgument("key_id", "must be at most 64 characters");
    return this.db.transaction(async (tx) => {
      // Revoking a revoked key keeps its first revocation time.
      const [row] = await tx
        .update(apiKeys)
        .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
        .where(eq(apiKeys.id, keyId))
        .returning(columns);
      if (!row) throw catalogueError(AccessErrorCode.API_KEY_NOT_FOUND, `key_id: no API key has id ${excerpt(keyId)}`, undefined, "key_id");
      await tx.execute(sql`SELECT pg_notify(${API_KEYS_CHANNEL}, ${keyId})`);
      return row;
    });
  }
}

function clientIdTaken(clientId: string) {
  return catalogueError(AccessErrorCode.CLIENT_ID_TAKEN, `client_id: ${clientId} is a client of another tenant`, undefined, "client_id");
}
