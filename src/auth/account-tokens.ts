/**
 * Account tokens: short-lived JWTs for browsers and phones, minted by an API key
 * (AccountService.MintAccountToken) and accepted as `Authorization: Bearer <token>`.
 *
 * A token is signed with HS256 by the first key of TOKEN_SIGNING_KEYS (`kid:secret`, the secret 32
 * or more bytes of base64url) and verified by any of them (rotation: add the new key first, sign
 * with it once every instance has it, drop the old one after the longest token lifetime). Claims:
 * iss and aud fixed (TOKEN_ISSUER, TOKEN_AUDIENCE), sub = the minting key's client id, `ten` its
 * tenant, `acc` the accounts, `scp` the scopes, `key` the minting key (its id, or a digest of a
 * configured key's hash: revoking the key stops its tokens), jti, iat, exp; header kid.
 * Verification pins the algorithm, checks issuer, audience and expiry (5 s of clock skew) and
 * every claim's shape; any failure is one answer, "invalid", with nothing said about why.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { and, eq, inArray } from "drizzle-orm";
import { SignJWT, jwtVerify, type JWTPayload } from "jose";
import type { AccountTokenMinting, Credential } from "../api/access.js";
import { AccessErrorCode, EdgeErrorCode, catalogueError } from "../api/error-catalogue.js";
import { ConfigError } from "../config/config.js";
import type { Database } from "../db/client.js";
import { accounts } from "../db/schema.js";
import { ulid } from "../ids/ulid.js";
import { LedgerError, LedgerErrorCode, invalidArgument } from "../ledger/ledger-error.js";
import type { Logger } from "../telemetry/logger.js";
import { SCOPES, TENANT_ID, type Scope } from "./api-keys.js";

export const TOKEN_ISSUER = "payment-ledger";
export const TOKEN_AUDIENCE = "payment-ledger-api";
export const TOKEN_ALGORITHM = "HS256";
export const DEFAULT_TOKEN_TTL_SECONDS = 900;
export const MAX_TOKEN_TTL_SECONDS = 3600;
export const MAX_TOKEN_ACCOUNTS = 100;
/** Skew allowed between the clocks of the instance that minted and the one that verifies. */
const CLOCK_TOLERANCE_SECONDS = 5;
/** Scopes no token carries: they reach beyond any list of accounts. */
export const OPERATOR_SCOPES: readonly Scope[] = ["admin", "tenants:admin", "accounts:admin"];
/** File name of the embedded default's signing key, beside the development API key. */
export const DEV_SIGNING_KEY_FILE = "dev-token-signing-key";

const KID = /^[A-Za-z0-9_.-]{1,64}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const MIN_SECRET_BYTES = 32;
/** Three base64url parts: how an account token is told from an API key. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface SigningKey {
  kid: string;
  secret: Uint8Array;
}

/** What a valid token grants. */
export interface TokenClaims {
  clientId: string;
  tenantId: string;
  accountIds: string[];
  scopes: Scope[];
  keyRef: string;
  tokenId: string;
}

/** True when `bearer` has the shape of a JWT (API keys have no dots). */
export function looksLikeToken(bearer: string): boolean {
  return JWT_SHAPE.test(bearer);
}

/**
 * Parses TOKEN_SIGNING_KEYS (`kid:secret`, comma separated, the first signs). Problems are thrown
 * together, one line each; secrets never appear in them.
 */
export function parseSigningKeys(text: string, source = "TOKEN_SIGNING_KEYS"): SigningKey[] {
  const problems: string[] = [];
  const keys: SigningKey[] = [];
  const kids = new Set<string>();
  const entries = text.split(",").map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 0) problems.push(`${source}: expected kid:secret[,kid:secret...]`);
  entries.forEach((entry, index) => {
    const where = `${source} entry ${index + 1}`;
    const colon = entry.indexOf(":");
    const kid = colon < 0 ? "" : entry.slice(0, colon);
    const secret = colon < 0 ? "" : entry.slice(colon + 1);
    if (colon < 0) return problems.push(`${where}: expected kid:secret`);
    if (!KID.test(kid)) return problems.push(`${where}: the key id must be 1-64 of A-Z a-z 0-9 _ . -`);
    if (kids.has(kid)) return problems.push(`${where}: key id ${kid} is configured twice`);
    kids.add(kid);
    if (!BASE64URL.test(secret)) return problems.push(`${where} (${kid}): the secret must be base64url (A-Z a-z 0-9 - _, no padding)`);
    const bytes = Buffer.from(secret, "base64url");
    if (bytes.length < MIN_SECRET_BYTES) {
      return problems.push(`${where} (${kid}): the secret must be at least ${MIN_SECRET_BYTES} bytes (got ${bytes.length}); make one with: openssl rand -base64 32 | tr '+/' '-_' | tr -d =`);
    }
    keys.push({ kid, secret: new Uint8Array(bytes) });
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return keys;
}

/** The embedded default's signing key, made at first start beside the PGlite data (like the dev API key). */
export function ensureDevSigningKey(dataDir: string, logger: Logger): SigningKey[] {
  const file = join(dataDir, DEV_SIGNING_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `dev:${randomBytes(32).toString("base64url")}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  logger.info({ keyFile: file }, `account tokens are signed with the development key in ${file}; configure TOKEN_SIGNING_KEYS for anything else`);
  return parseSigningKeys(readFileSync(file, "utf8").trim(), file);
}

export class AccountTokens implements AccountTokenMinting {
  private db?: Database;

  /** `keys`: the first signs, all verify; none: minting answers TOKEN_SIGNING_NOT_CONFIGURED. */
  constructor(private readonly keys: readonly SigningKey[]) {}

  /** The database whose accounts tokens are minted for (set once it is migrated). */
  attach(db: Database): void {
    this.db = db;
  }

  async mint(credential: Credential, request: { accountIds: readonly string[]; scopes: readonly string[]; ttlSeconds: number }): Promise<{ token: string; expiresAt: Date }> {
    if (credential.kind !== "api-key") throw catalogueError(EdgeErrorCode.PERMISSION_DENIED, "account tokens cannot mint tokens: call MintAccountToken with an API key");
    const accountIds = [...new Set(request.accountIds)];
    if (accountIds.length === 0) throw invalidArgument("account_ids", "must name at least one account");
    if (accountIds.length > MAX_TOKEN_ACCOUNTS) throw invalidArgument("account_ids", `must name at most ${MAX_TOKEN_ACCOUNTS} accounts`);
    if (accountIds.some((id) => id.length === 0 || id.length > 64)) throw invalidArgument("account_ids", "every id must be 1-64 characters");
    const scopes = [...new Set(request.scopes)];
    if (scopes.length === 0) throw invalidArgument("scopes", "must name at least one scope");
    const unknown = scopes.filter((scope) => !(SCOPES as readonly string[]).includes(scope));
    if (unknown.length > 0) throw invalidArgument("scopes", `unknown scope ${unknown.slice(0, 3).join(", ").slice(0, 100)}`);
    const operator = scopes.filter((scope) => (OPERATOR_SCOPES as readonly string[]).includes(scope));
    if (operator.length > 0) throw invalidArgument("scopes", `${operator.join(", ")} cannot be given to an account token`);
    const missing = scopes.filter((scope) => !credential.scopes.has(scope));
    if (missing.length > 0) {
      throw catalogueError(EdgeErrorCode.PERMISSION_DENIED, `scopes: the key lacks ${missing.join(", ")}: a token gets a subset of its key's scopes`, undefined, "scopes");
    }
    const ttl = request.ttlSeconds === 0 ? DEFAULT_TOKEN_TTL_SECONDS : request.ttlSeconds;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) throw invalidArgument("ttl_seconds", `must be 1-${MAX_TOKEN_TTL_SECONDS} (0: ${DEFAULT_TOKEN_TTL_SECONDS})`);
    const signer = this.keys[0];
    if (!signer || !this.db) {
      throw catalogueError(AccessErrorCode.TOKEN_SIGNING_NOT_CONFIGURED, "account tokens are not configured on this service: set TOKEN_SIGNING_KEYS");
    }
    // The tenant is read from the account row itself: an account of another tenant is as absent as
    // one that does not exist. Funding accounts are the ledger's own, never a token's.
    const found = await this.db
      .select({ id: accounts.id })
      .from(accounts)
      .where(and(eq(accounts.tenantId, credential.tenantId), eq(accounts.isFunding, false), inArray(accounts.id, accountIds)));
    const known = new Set(found.map((row) => row.id));
    const absent = accountIds.find((id) => !known.has(id));
    if (absent !== undefined) throw new LedgerError(LedgerErrorCode.ACCOUNT_NOT_FOUND, `account_ids: account ${absent} does not exist`, "account_ids");

    const issuedAt = Math.floor(Date.now() / 1000);
    const expiresAt = issuedAt + ttl;
    const token = await new SignJWT({ ten: credential.tenantId, acc: accountIds, scp: scopes, key: credential.keyRef })
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, kid: signer.kid, typ: "JWT" })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setSubject(credential.clientId)
      .setJti(ulid())
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(signer.secret);
    return { token, expiresAt: new Date(expiresAt * 1000) };
  }

  /** The token's claims when it is valid now, undefined otherwise (never throws). */
  async verify(token: string): Promise<TokenClaims | undefined> {
    if (this.keys.length === 0) return undefined;
    try {
      const { payload, protectedHeader } = await jwtVerify(
        token,
        (header) => {
          const key = this.keys.find((candidate) => candidate.kid === header.kid);
          if (!key) throw new Error("unknown kid");
          return key.secret;
        },
        {
          algorithms: [TOKEN_ALGORITHM],
          issuer: TOKEN_ISSUER,
          audience: TOKEN_AUDIENCE,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ["exp", "iat", "jti", "sub"],
          maxTokenAge: MAX_TOKEN_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS,
        },
      );
      if (protectedHeader.typ !== "JWT") return undefined;
      return claimsOf(payload);
    } catch {
      return undefined;
    }
  }
}

/** The claims, when every one has the shape minting gives it. */
function claimsOf(payload: JWTPayload): TokenClaims | undefined {
  const { sub, jti, ten, acc, scp, key, exp, iat } = payload as JWTPayload & Record<string, unknown>;
  if (typeof sub !== "string" || typeof jti !== "string" || typeof key !== "string" || typeof ten !== "string" || !TENANT_ID.test(ten)) return undefined;
  if (typeof exp !== "number" || typeof iat !== "number" || exp - iat > MAX_TOKEN_TTL_SECONDS) return undefined;
  if (!Array.isArray(acc) || acc.length === 0 || acc.length > MAX_TOKEN_ACCOUNTS || !acc.every((id) => typeof id === "string")) return undefined;
  if (!Array.isArray(scp) || scp.length === 0) return undefined;
  if (!scp.every((scope) => (SCOPES as readonly unknown[]).includes(scope) && !(OPERATOR_SCOPES as readonly unknown[]).includes(scope))) return undefined;
  return { clientId: sub, tenantId: ten, accountIds: acc as string[], scopes: scp as Scope[], keyRef: key, tokenId: jti };
}
