/**
 * API keys: clients send `Authorization: Bearer <key>`; the service only ever holds SHA-256
 * hashes, each with the client id it stands for and the scopes it grants. Entries come from
 * API_KEYS and/or the file named by API_KEYS_FILE, in one format:
 *
 *     [<tenant-id>/]<client-id>:<scope>[+<scope>...]:<sha256 hex of the key>
 *
 * (the default tenant when none is named)
 * separated by commas or new lines; `#` starts a comment. `npm run api-key` mints a key and prints
 * its entry.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "../config/config.js";
import { DEFAULT_TENANT, TENANT_ID } from "../db/schema.js";

/**
 * What a key may do. Reads need `read`; each kind of write has its own scope. Two operator scopes,
 * kept apart because they grant different powers: `accounts:admin` changes an account's terms
 * (UpdateAccount: the overdraft limit, which lets money leave), `admin` only inspects the whole
 * ledger (AdminService.VerifyLedger: reads every account's chain, moves nothing). `tenants:admin`
 * manages tenants and API keys (AdminService.CreateTenant, CreateApiKey, ListApiKeys, RevokeApiKey).
 */
export const SCOPES = ["accounts:write", "payments:write", "read", "accounts:admin", "admin", "tenants:admin"] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * Scopes whose calls are not confined to a tenant (VerifyLedger reads every account, the key and
 * tenant calls name any tenant): only keys of the default tenant, the operators', may hold them,
 * whether configured (API_KEYS) or made by CreateApiKey.
 */
export const GLOBAL_SCOPES: readonly Scope[] = ["admin", "tenants:admin"];

/** The client a key authenticates, its tenant, and what it may do. */
export interface ApiKeyGrant {
  clientId: string;
  tenantId: string;
  scopes: ReadonlySet<Scope>;
  /** Id of the stored key (AdminService.CreateApiKey); absent for configured keys. */
  keyId?: string;
}

/** Client ids: what idempotency keys and rate limits are scoped by. */
export const CLIENT_ID = /^[A-Za-z0-9_.-]{1,64}$/;
/** Tenant ids: lower case, so that two spellings never name two tenants. */
export { TENANT_ID };
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Hex SHA-256 of a key, the only form in which keys are configured or kept. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** A fresh random key: 256 bits, URL-safe, with a prefix that makes leaked keys easy to grep for. */
export function generateApiKey(): string {
  return `pl_${randomBytes(32).toString("base64url")}`;
}

/** The configuration entry granting `scopes` to `clientId` for the key with this hash. */
export function formatEntry(clientId: string, scopes: readonly Scope[], hash: string, tenantId = DEFAULT_TENANT): string {
  return `${tenantId === DEFAULT_TENANT ? "" : `${tenantId}/`}${clientId}:${scopes.join("+")}:${hash}`;
}

/**
 * Parses entries from `text` (`source` names it in error messages). Problems are collected and
 * thrown together as a ConfigError; hashes are never echoed.
 */
export function parseApiKeyEntries(text: string, source: string): Map<string, ApiKeyGrant> {
  const grants = new Map<string, ApiKeyGrant>();
  const problems: string[] = [];
  const entries = text
    .split("\n")
    .flatMap((line) => line.replace(/#.*/, "").split(","))
    .map((entry) => entry.trim())
    .filter(Boolean);
  entries.forEach((entry, index) => {
    const where = `${source} entry ${index + 1}`;
    // Scope names contain colons themselves: the client id is before the first, the hash after the last.
    const parts = entry.split(":");
    if (parts.length < 3) return problems.push(`${where}: expected [<tenant-id>/]<client-id>:<scope>+<scope>:<sha256 hex>`);
    const owner = parts[0]!.split("/");
    const tenantId = owner.length > 1 ? owner[0]! : DEFAULT_TENANT;
    const clientId = owner.at(-1)!;
    if (owner.length > 2 || !TENANT_ID.test(tenantId)) problems.push(`${where}: tenant id must be 1-64 of a-z 0-9 _ -`);
    const hash = parts.at(-1)!;
    const scopeList = parts.slice(1, -1).join(":");
    if (!CLIENT_ID.test(clientId)) problems.push(`${where}: client id must be 1-64 of A-Z a-z 0-9 _ . -`);
    const scopes = scopeList.split("+");
    const unknown = scopes.filter((scope) => !(SCOPES as readonly string[]).includes(scope));
    if (unknown.length > 0) problems.push(`${where}: unknown scope ${unknown.join(", ")} (known: ${SCOPES.join(", ")})`);
    const global = scopes.filter((scope) => (GLOBAL_SCOPES as readonly string[]).includes(scope));
    if (global.length > 0 && tenantId !== DEFAULT_TENANT) {
      problems.push(`${where}: ${global.join(", ")} reach every tenant: only keys of the ${DEFAULT_TENANT} tenant (operators) may have them`);
    }
    if (!SHA256_HEX.test(hash)) problems.push(`${where}: the key hash must be 64 lower-case hex digits (SHA-256)`);
    else if (grants.has(hash)) problems.push(`${where}: the same key hash is configured twice`);
    else grants.set(hash, { clientId, tenantId, scopes: new Set(scopes as Scope[]) });
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return grants;
}

/** Reads the configured entries; an empty map means none are configured. */
export function loadApiKeys(options: { keys?: string; file?: string }): Map<string, ApiKeyGrant> {
  const grants = new Map<string, ApiKeyGrant>();
  const sources: [string, string][] = [];
  if (options.keys) sources.push([options.keys, "API_KEYS"]);
  if (options.file) {
    try {
      sources.push([readFileSync(options.file, "utf8"), "API_KEYS_FILE"]);
    } catch (error) {
      throw new ConfigError([`API_KEYS_FILE: cannot read ${options.file}: ${(error as Error).message}`]);
    }
  }
  for (const [text, source] of sources) {
    for (const [hash, grant] of parseApiKeyEntries(text, source)) {
      if (grants.has(hash)) throw new ConfigError([`${source}: a key hash is configured in both API_KEYS and API_KEYS_FILE`]);
      grants.set(hash, grant);
    }
  }
  return grants;
}
