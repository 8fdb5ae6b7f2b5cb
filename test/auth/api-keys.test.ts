import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { promisify } from "node:util";
import { formatEntry, generateApiKey, hashApiKey, loadApiKeys, parseApiKeyEntries } from "../../src/auth/api-keys.js";
import { DEV_KEY_FILE, ensureDevKey } from "../../src/auth/dev-key.js";
import { ConfigError } from "../../src/config/config.js";
import { capturingLogger } from "../support/logs.js";

const HASH = "a".repeat(64);
const run = promisify(execFile);

it("entries parse from commas, new lines and comments into grants by hash", () => {
  const grants = parseApiKeyEntries(`# operators\nops:read:${HASH}, shop:payments:write+read:${"b".repeat(64)}\n`, "API_KEYS");
  assert.equal(grants.size, 2);
  assert.equal(grants.get(HASH)?.clientId, "ops");
  assert.deepEqual([...grants.get("b".repeat(64))!.scopes], ["payments:write", "read"]);
});

it("every bad entry is reported, numbered, without echoing hashes", () => {
  assert.throws(
    () => parseApiKeyEntries(`bad client:read:${HASH},ops:root:${"c".repeat(64)},ops:read:nothex,ops:read:${HASH},x:y`, "API_KEYS"),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        "API_KEYS entry 1: client id must be 1-64 of A-Z a-z 0-9 _ . -",
        "API_KEYS entry 2: unknown scope root (known: accounts:write, payments:write, read, accounts:admin, admin, tenants:admin)",
        "API_KEYS entry 3: the key hash must be 64 lower-case hex digits (SHA-256)",
        "API_KEYS entry 4: the same key hash is configured twice",
        "API_KEYS entry 5: expected [<tenant-id>/]<client-id>:<scope>+<scope>:<sha256 hex>",
      ]);
      assert.ok(!error.message.includes(HASH));
      return true;
    },
  );
});

it("a key hash configured twice, in a list or across env and file, is refused", (t) => {
  assert.throws(() => parseApiKeyEntries(`a:read:${HASH},b:read:${HASH}`, "API_KEYS"), /configured twice/);
  const dir = mkdtempSync(join(tmpdir(), "keys-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "keys");
  writeFileSync(file, `b:read:${HASH}\n`);
  assert.throws(() => loadApiKeys({ keys: `a:read:${HASH}`, file }), /both API_KEYS and API_KEYS_FILE/);
  assert.equal(loadApiKeys({ file }).get(HASH)?.clientId, "b");
  assert.throws(() => loadApiKeys({ file: `${file}-missing` }), /API_KEYS_FILE: cannot read/);
});

it("a generated key matches the entry made for it", () => {
  const key = generateApiKey();
  assert.match(key, /^pl_[A-Za-z0-9_-]{43}$/);
  const grants = parseApiKeyEntries(formatEntry("shop", ["read"], hashApiKey(key)), "test");
  assert.equal(grants.get(hashApiKey(key))?.clientId, "shop");
  assert.notEqual(generateApiKey(), key);
});

it("the development key is created once, private to its owner, and never logged", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "devkey-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { logger, text } = capturingLogger();
  const first = ensureDevKey(dir, logger);
  const key = readFileSync(join(dir, DEV_KEY_FILE), "utf8").trim();
  assert.equal(statSync(join(dir, DEV_KEY_FILE)).mode & 0o777, 0o600);
  assert.deepEqual([...first.keys()], [hashApiKey(key)]);
  assert.deepEqual([...first.values()][0]!.scopes, new Set(["accounts:write", "payments:write", "read", "accounts:admin", "admin", "tenants:admin"]));
  assert.equal([...first.values()][0]!.tenantId, "default", "the development key is an operator key of the default tenant");
  const second = ensureDevKey(dir, logger);
  assert.deepEqual([...second.keys()], [hashApiKey(key)], "restarts keep the same key");
  const log = text();
  assert.match(log, /generated a development API key/);
  assert.match(log, /Authorization: Bearer \$\(cat /);
  assert.ok(!log.includes(key), "the key itself is not in the log");
});

it("an entry may name its tenant before the client id; without one it is the default tenant", () => {
  const grants = parseApiKeyEntries(`shop-a/web:read:${HASH},ops:admin:${"b".repeat(64)}`, "API_KEYS");
  assert.equal(grants.get(HASH)?.tenantId, "shop-a");
  assert.equal(grants.get(HASH)?.clientId, "web");
  assert.equal(grants.get("b".repeat(64))?.tenantId, "default");
  assert.equal(formatEntry("web", ["read"], HASH, "shop-a"), `shop-a/web:read:${HASH}`);
  assert.throws(() => parseApiKeyEntries(`Shop/web:read:${HASH}`, "API_KEYS"), /tenant id must be/);
});

it("npm run api-key makes an entry for a client of a named tenant, and refuses a bad tenant", async () => {
  const { stdout } = await run("npx", ["tsx", "src/auth/api-key-cli.ts", "acme/shop-backend", "read+payments:write"]);
  const key = /key \(give it to the client; it is not stored anywhere\): (pl_\S+)/.exec(stdout)?.[1];
  const entry = /entry \(add to API_KEYS or API_KEYS_FILE\): (\S+)/.exec(stdout)?.[1];
  assert.ok(key && entry, stdout);
  assert.match(entry, /^acme\/shop-backend:read\+payments:write:[0-9a-f]{64}$/);
  assert.deepEqual(parseApiKeyEntries(entry, "test").get(hashApiKey(key)), { clientId: "shop-backend", tenantId: "acme", scopes: new Set(["read", "payments:write"]) });
  await assert.rejects(run("npx", ["tsx", "src/auth/api-key-cli.ts", "Acme!/shop"]), (error: { code?: number; stderr?: string }) => error.code === 2 && /tenant id must be/.test(error.stderr ?? ""));
});

it("operator scopes (admin, tenants:admin) are refused on a configured key of another tenant than the default", () => {
  assert.throws(() => parseApiKeyEntries(`shop-a/ops:read+admin:${HASH}`, "API_KEYS"), /admin reach every tenant: only keys of the default tenant/);
  assert.throws(() => parseApiKeyEntries(`shop-a/ops:tenants:admin:${HASH}`, "API_KEYS"), /tenants:admin reach every tenant/);
  assert.equal(parseApiKeyEntries(`ops:admin+tenants:admin:${HASH}`, "API_KEYS").get(HASH)?.tenantId, "default");
});
