/** The embedded default (PGlite, no keys configured): a development key appears and keeps working. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { promisify } from "node:util";
import { Code, ConnectError } from "@connectrpc/connect";
import { loadConfig } from "../../src/config/config.js";
import { startService } from "../../src/server/service.js";
import { capturingLogger } from "../support/logs.js";
import { testKey } from "../support/api-keys.js";
import { adminClient, jsonClients } from "../support/clients.js";
import { until } from "../support/until.js";

const run = promisify(execFile);

it("first start writes a key file, curl with it works, a restart keeps it", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "embedded-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = loadConfig({ PGLITE_DATA_DIR: dataDir, PORT: "0", METRICS_PORT: "0" });
  const { logger, text } = capturingLogger();
  const create = (url: string, authorization?: string) =>
    fetch(`${url}/payment.v1.AccountService/CreateAccount`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ currency: "USD", displayName: "dev" }),
    });

  let service = await startService(config, logger);
  const key = readFileSync(join(dataDir, "dev-api-key"), "utf8").trim();
  try {
    assert.equal((await create(service.url)).status, 401);
    assert.equal((await create(service.url, `Bearer ${key}`)).status, 200);
  } finally {
    await service.stop();
  }
  service = await startService(config, logger);
  try {
    assert.equal((await create(service.url, `Bearer ${key}`)).status, 200, "the same key after a restart");
  } finally {
    await service.stop();
  }
  const log = text();
  assert.match(log, /generated a development API key/);
  assert.match(log, /using a development API key/);
  assert.ok(!log.includes(key));
});

it("setting API_KEYS retires the development key, and the log says so at start", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "embedded-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const { logger, text } = capturingLogger();
  let service = await startService(loadConfig({ PGLITE_DATA_DIR: dataDir, PORT: "0", METRICS_PORT: "0" }), logger);
  await service.stop();
  const keyFile = join(dataDir, "dev-api-key");
  const devKey = readFileSync(keyFile, "utf8").trim();
  service = await startService(
    loadConfig({ PGLITE_DATA_DIR: dataDir, PORT: "0", METRICS_PORT: "0", API_KEYS: testKey("ops").entry }),
    logger,
  );
  try {
    const response = await fetch(`${service.url}/payment.v1.AccountService/GetAccount`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${devKey}` },
      body: JSON.stringify({ accountId: "x" }),
    });
    assert.equal(response.status, 401);
  } finally {
    await service.stop();
  }
  assert.match(text(), new RegExp(`development API key in ${keyFile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} no longer works: API_KEYS`));
});

it("on the embedded default, account tokens work out of the box (npm run account-token) and stored keys are created and revoked", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "embedded-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const service = await startService(loadConfig({ PGLITE_DATA_DIR: dataDir, PORT: "0", METRICS_PORT: "0" }), capturingLogger().logger);
  try {
    const devKey = readFileSync(join(dataDir, "dev-api-key"), "utf8").trim();
    assert.equal(statSync(join(dataDir, "dev-token-signing-key")).mode & 0o777, 0o600, "the signing key file is private");
    await jsonClients(service.url, devKey).accounts.createAccount({ accountId: "alice", currency: "USD", displayName: "Alice" });

    // The documented step, as a person runs it: the dev key file is found by itself, the token is all it prints.
    const { stdout } = await run("npx", ["tsx", "src/auth/account-token-cli.ts", "--accounts", "alice", "--scopes", "read"], {
      env: { ...process.env, PGLITE_DATA_DIR: dataDir, LEDGER_URL: service.url, LEDGER_API_KEY: "" },
    });
    const token = stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal((await jsonClients(service.url, token).payments.getAccountBalance({ accountId: "alice" })).availableBalanceCents, 0n);

    // Stored keys on PGlite: LISTEN/NOTIFY in-process.
    const admin = adminClient(service.url, devKey);
    const { keyId, key } = await admin.createApiKey({ tenantId: "default", clientId: "embedded-app", scopes: ["read"] });
    await until("the stored key works", async () => (await outcome(jsonClients(service.url, key).accounts.getAccount({ accountId: "alice" }))) === "ok", { timeoutMs: 5_000 });
    await admin.revokeApiKey({ keyId });
    await until("the revoked key is refused", async () => (await outcome(jsonClients(service.url, key).accounts.getAccount({ accountId: "alice" }))) === Code.Unauthenticated, { timeoutMs: 1_000 });
  } finally {
    await service.stop();
  }
});

async function outcome(call: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await call;
    return "ok";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}
