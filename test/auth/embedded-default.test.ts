/** The embedded default (PGlite, no keys configured): a development key appears and keeps working. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { loadConfig } from "../../src/config/config.js";
import { startService } from "../../src/server/service.js";
import { capturingLogger } from "../support/logs.js";
import { testKey } from "../support/api-keys.js";

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
