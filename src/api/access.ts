/**
 * What the key and token handlers need from src/auth, declared here so that the API layer stays
 * free of the database and of signing keys: src/auth implements it (key-admin.ts,
 * account-tokens.ts) and the server wires it into the routes.
 */

/** A stored API key as AdminService shows it: never the key, never its hash. */
export interface ApiKeyRecord {
  keyId: string;
  tenantId: string;
  clientId: string;
  scopes: string[];
  createdAt: Date;
  revokedAt: Date | null;
}

/** AdminService.CreateApiKey / ListApiKeys / RevokeApiKey. */
export interface ApiKeyManagement {
  create(input: { tenantId: string; clientId: string; scopes: readonly string[] }): Promise<{ key: string; record: ApiKeyRecord }>;
  list(input: { tenantId: string; pageSize: number; pageToken: string }): Promise<{ items: ApiKeyRecord[]; nextPageToken: string }>;
  revoke(keyId: string): Promise<ApiKeyRecord>;
}

/** The credential a request was authenticated with (set by the auth interceptor). */
export interface Credential {
  kind: "api-key" | "account-token";
  clientId: string;
  tenantId: string;
  /** What it may do (a token: its own scopes, within its key's). */
  scopes: ReadonlySet<string>;
  /**
   * The API key behind it, as account tokens name it: a stored key's id, or `cfg_` and a digest of
   * a configured key's hash. Revoking (or removing) that key stops the tokens it minted.
   */
  keyRef: string;
}

/** AccountService.MintAccountToken. */
export interface AccountTokenMinting {
  mint(credential: Credential, request: { accountIds: readonly string[]; scopes: readonly string[]; ttlSeconds: number }): Promise<{ token: string; expiresAt: Date }>;
}

/** Both, as the routes take them. */
export interface Access {
  keys: ApiKeyManagement;
  tokens: AccountTokenMinting;
}
