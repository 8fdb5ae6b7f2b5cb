/**
 * AdminService.CreateApiKey / ListApiKeys / RevokeApiKey against real PostgreSQL and the real
 * server: validation, paging, revocation, and revocation seen by a second instance within a second.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { loadConfig } from "../../src/config/config.js";
import { startService, type RunningService } from "../../src/server/service.js";
import { hashApiKey } from "../../src/auth/api-keys.js";
import { testKey } from "../support/api-keys.js";
import { rows } from "../support/invariants.js";
import { adminClient, jsonClients } from "../support/clients.js";
import { rejectsWith } from "../support/connect-errors.js";
import { capturingLogger } from "../support/logs.js";
import { EDGE_DEFAULTS, startTestService, type TestService } from "../support/service.js";
import { until } from "../support/until.js";

const operator = testKey("operator", ["tenants:admin"]);
const plain = testKey("plain", ["read", "accounts:write"]);
const configuredAcme = testKey("configured-acme", ["read"]);
let svc: TestService;
let second: RunningService;

function env(databaseUrl: string): Record<string, string> {
  return {
    AUTH_DISABLED: "false",
    API_KEYS: [operator.entry, plain.entry, `acme/${configuredAcme.entry}`].join(","),
    DATABASE_URL: databaseUrl,
  };
}

before(async () => {
  svc = await startTestService(env);
  await svc.database.handle.db.execute(sql`INSERT INTO tenants (id, display_name) VALUES ('acme', 'Acme'), ('globex', 'Globex') ON CONFLICT (id) DO NOTHING`);
  // A second instance on the same database: what one revokes, the other must refuse.
  const config = loadConfig({ HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "info", ...EDGE_DEFAULTS, ...env(svc.database.url) });
  second = await startService(config, capturingLogger().logger);
});
after(async () => {
  await second?.stop();
  await svc?.stop();
});

describe("CreateApiKey", () => {
  it("returns the key once, stores only its hash, and the key works at once on both instances", async () => {
    const admin = adminClient(svc.url, operator.key);
    const created = await admin.createApiKey({ tenantId: "acme", clientId: "acme-web", scopes: ["read", "accounts:write"] });
    assert.match(created.keyId, /^[0-9A-HJKMNP-TV-Z]{26}$/, "a ULID");
    assert.match(created.key, /^pl_/);
    assert.deepEqual([created.apiKey?.tenantId, created.apiKey?.clientId, created.apiKey?.scopes], ["acme", "acme-web", ["accounts:write", "read"]]);
    const [stored] = await rows(svc.database.handle.db, sql`SELECT key_hash FROM api_keys WHERE id = ${created.keyId}`);
    assert.equal(stored?.key_hash, hashApiKey(created.key));
    const text = JSON.stringify(await rows(svc.database.handle.db, sql`SELECT * FROM api_keys`));
    assert.ok(!text.includes(created.key), "the key itself is nowhere in the table");
    for (const url of [svc.url, second.url]) {
      await until(`the new key works on ${url}`, async () => {
        try {
          await jsonClients(url, created.key).accounts.listAccounts({});
          return true;
        } catch {
          return false;
        }
      }, { timeoutMs: 5_000 });
    }
  });

  it("refuses bad input with the field named, and writes nothing", async () => {
    const admin = adminClient(svc.url, operator.key);
    const before = await count();
    await rejectsWith(admin.createApiKey({ tenantId: "nobody", clientId: "x", scopes: ["read"] }), Code.NotFound, "TENANT_NOT_FOUND", "tenant_id");
    await rejectsWith(admin.createApiKey({ tenantId: "", clientId: "x", scopes: ["read"] }), Code.InvalidArgument, "INVALID_ARGUMENT", "tenant_id");
    await rejectsWith(admin.createApiKey({ tenantId: "Acme!", clientId: "x", scopes: ["read"] }), Code.InvalidArgument, "INVALID_ARGUMENT", "tenant_id");
    for (const clientId of ["", "has space", "x".repeat(65), "colon:no", "slash/no"]) {
      await rejectsWith(admin.createApiKey({ tenantId: "acme", clientId, scopes: ["read"] }), Code.InvalidArgument, "INVALID_ARGUMENT", "client_id");
    }
    await rejectsWith(admin.createApiKey({ tenantId: "acme", clientId: "ok", scopes: [] }), Code.InvalidArgument, "INVALID_ARGUMENT", "scopes");
    await rejectsWith(admin.createApiKey({ tenantId: "acme", clientId: "ok", scopes: ["read", "root"] }), Code.InvalidArgument, "INVALID_ARGUMENT", "scopes");
    // Operator scopes reach every tenant: only the default tenant's keys (operators) get them.
    for (const scope of ["admin", "tenants:admin"]) {
      await rejectsWith(admin.createApiKey({ tenantId: "acme", clientId: "ok", scopes: ["read", scope] }), Code.InvalidArgument, "INVALID_ARGUMENT", "scopes");
    }
    assert.equal(await count(), before);
  });

  it("a client id belongs to one tenant: stored or configured elsewhere is ALREADY_EXISTS", async () => {
    const admin = adminClient(svc.url, operator.key);
    const ops = await admin.createApiKey({ tenantId: "default", clientId: "second-operator", scopes: ["tenants:admin", "admin"] });
    assert.deepEqual(ops.apiKey?.scopes, ["admin", "tenants:admin"]);
    await admin.createApiKey({ tenantId: "acme", clientId: "acme-backend", scopes: ["read"] });
    // The same tenant may have several keys for one client (rotation).
    await admin.createApiKey({ tenantId: "acme", clientId: "acme-backend", scopes: ["read"] });
    await rejectsWith(admin.createApiKey({ tenantId: "globex", clientId: "acme-backend", scopes: ["read"] }), Code.AlreadyExists, "CLIENT_ID_TAKEN", "client_id");
    await rejectsWith(admin.createApiKey({ tenantId: "globex", clientId: configuredAcme.clientId, scopes: ["read"] }), Code.AlreadyExists, "CLIENT_ID_TAKEN", "client_id");
    await rejectsWith(admin.createApiKey({ tenantId: "globex", clientId: plain.clientId, scopes: ["read"] }), Code.AlreadyExists, "CLIENT_ID_TAKEN", "client_id");
  });

  it("needs tenants:admin", async () => {
    await rejectsWith(adminClient(svc.url, plain.key).createApiKey({ tenantId: "acme", clientId: "z", scopes: ["read"] }), Code.PermissionDenied, "PERMISSION_DENIED");
    await rejectsWith(adminClient(svc.url).listApiKeys({}), Code.Unauthenticated, "UNAUTHENTICATED");
  });
});

describe("ListApiKeys", () => {
  it("pages newest first, filters by tenant, never shows a key or hash", async () => {
    const admin = adminClient(svc.url, operator.key);
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await admin.createApiKey({ tenantId: "globex", clientId: `globex-${i}`, scopes: ["read"] })).keyId);
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await admin.listApiKeys({ tenantId: "globex", pageSize: 2, pageToken });
      assert.ok(page.apiKeys.length <= 2);
      seen.push(...page.apiKeys.map((key) => key.keyId));
      for (const key of page.apiKeys) assert.equal(key.tenantId, "globex");
      assert.ok(!JSON.stringify(page.apiKeys.map((key) => Object.keys(key))).match(/hash|"key"/));
      pageToken = page.nextPageToken;
    } while (pageToken);
    assert.deepEqual(seen, [...made].reverse());
    const all = await admin.listApiKeys({});
    assert.ok(all.apiKeys.some((key) => key.tenantId === "acme") && all.apiKeys.some((key) => key.tenantId === "globex"));
    await rejectsWith(admin.listApiKeys({ pageSize: 501 }), Code.InvalidArgument, "INVALID_ARGUMENT", "page_size");
    await rejectsWith(admin.listApiKeys({ tenantId: "acme", pageToken: (await admin.listApiKeys({ tenantId: "globex", pageSize: 1 })).nextPageToken }), Code.InvalidArgument, "INVALID_ARGUMENT", "page_token");
  });
});

describe("RevokeApiKey", () => {
  it("is idempotent, unknown ids are NOT_FOUND", async () => {
    const admin = adminClient(svc.url, operator.key);
    const { keyId } = await admin.createApiKey({ tenantId: "acme", clientId: "acme-short", scopes: ["read"] });
    const first = await admin.revokeApiKey({ keyId });
    assert.ok(first.apiKey?.revokedAt);
    const again = await admin.revokeApiKey({ keyId });
    assert.deepEqual(again.apiKey?.revokedAt, first.apiKey?.revokedAt, "the first revocation time stays");
    await rejectsWith(admin.revokeApiKey({ keyId: "01NOSUCHKEY0000000000000000" }), Code.NotFound, "API_KEY_NOT_FOUND", "key_id");
    await rejectsWith(admin.revokeApiKey({ keyId: "" }), Code.InvalidArgument, "INVALID_ARGUMENT", "key_id");
  });

  it("revoked through instance A, instance B refuses the key within a second", async () => {
    const admin = adminClient(svc.url, operator.key);
    const { keyId, key } = await admin.createApiKey({ tenantId: "default", clientId: "two-instances", scopes: ["read"] });
    const onB = jsonClients(second.url, key);
    await until("instance B accepts the new key", async () => (await outcome(onB.accounts.listAccounts({}))) === "ok", { timeoutMs: 5_000 });
    // Accepted on both instances first: each then holds the key's resolution (auth-interceptor.ts).
    const onA = jsonClients(svc.url, key);
    await until("instance A accepts the new key", async () => (await outcome(onA.accounts.listAccounts({}))) === "ok", { timeoutMs: 5_000 });
    const revokedAt = performance.now();
    await admin.revokeApiKey({ keyId });
    await until("instance B refuses the revoked key", async () => (await outcome(onB.accounts.listAccounts({}))) === Code.Unauthenticated, { timeoutMs: 1_000, intervalMs: 5 });
    const delayMs = performance.now() - revokedAt;
    console.log(`revocation seen by the second instance after ${delayMs.toFixed(1)} ms`);
    assert.ok(delayMs < 1_000);
    await rejectsWith(jsonClients(svc.url, key).accounts.listAccounts({}), Code.Unauthenticated, "UNAUTHENTICATED");
  });
});

async function outcome(call: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await call;
    return "ok";
  } catch (error) {
    return (error as { code: Code }).code;
  }
}

async function count(): Promise<number> {
  const [row] = await rows(svc.database.handle.db, sql`SELECT count(*)::int AS n FROM api_keys`);
  return Number(row?.n);
}
