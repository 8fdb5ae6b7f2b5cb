/**
 * The relay as the service runs it: in-process when KAFKA_BROKERS is set, off (and saying so once)
 * when it is not.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { loadConfig } from "../../src/config/config.js";
import { openDatabase } from "../../src/db/client.js";
import { runMigrations } from "../../src/db/migrate.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { startRelay } from "../../src/relay/start-relay.js";
import { startTestService } from "../support/service.js";
import { capturingLogger, harnessBrokers, kafkaFor, recordEvents, uniquePrefix } from "./fixtures.js";

const ctx = { clientId: "service-relay-test" };

it("runs in-process with the service when KAFKA_BROKERS is set, and stops with it", async () => {
  const prefix = uniquePrefix();
  const { logger } = capturingLogger();
  const log = await recordEvents(kafkaFor(harnessBrokers(), logger), prefix, logger);
  const test = await startTestService({ KAFKA_BROKERS: harnessBrokers(), KAFKA_TOPIC_PREFIX: prefix });
  try {
    const account = await test.service.ledger.createAccount({ currency: "EUR", displayName: "svc", accountId: "" }, ctx);
    await log.waitFor("AccountCreated", (events) =>
      events.some((e) => e.eventType === "AccountCreated" && e.key === account.accountId),
    );
  } finally {
    await test.stop();
    await log.stop();
  }
  assert.ok(test.logs.some((line) => line.msg === "relay: started" && line.topicPrefix === prefix));
  assert.ok(test.logs.some((line) => line.msg === "relay: stopped"), "stopped with the service");
});

it("stays off without KAFKA_BROKERS, says so once, and leaves events in the outbox", async () => {
  const test = await startTestService();
  try {
    await test.service.ledger.createAccount({ currency: "EUR", displayName: "off", accountId: "" }, ctx);
    const off = test.logs.filter((line) => String(line.msg).startsWith("relay: KAFKA_BROKERS is not set"));
    assert.equal(off.length, 1);
    const rows = await test.database.handle.db.query.outbox.findMany();
    assert.ok(rows.length > 0 && rows.every((row) => row.publishedAt === null));
  } finally {
    await test.stop();
  }
});

it("relays from embedded PGlite too (npm start without DATABASE_URL)", async () => {
  const prefix = uniquePrefix();
  const { logger } = capturingLogger();
  const log = await recordEvents(kafkaFor(harnessBrokers(), logger), prefix, logger);
  const dir = await mkdtemp(join(tmpdir(), "relay-pglite-"));
  const database = await openDatabase({ poolSize: 1, pgliteDataDir: dir });
  try {
    await runMigrations(database);
    const config = loadConfig({ KAFKA_BROKERS: harnessBrokers(), KAFKA_TOPIC_PREFIX: prefix, RELAY_POLL_INTERVAL_MS: "60000" });
    const relay = (await startRelay(config, database, logger))!;
    try {
      const ledger = new Ledger(database.db, { idempotencyTtlHours: 1 });
      const account = await ledger.createAccount({ currency: "EUR", displayName: "lite", accountId: "" }, ctx);
      // The poll is a minute away: arriving sooner shows PGlite's LISTEN wakes the relay.
      await log.waitFor("AccountCreated from PGlite", (events) => events.some((e) => e.key === account.accountId), 15_000);
      assert.deepEqual(log.events.find((e) => e.key === account.accountId)!.problems, []);
    } finally {
      await relay.stop();
    }
  } finally {
    await database.close();
    await log.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
