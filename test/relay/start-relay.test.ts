/**
 * The relay as the service runs it: in-process when KAFKA_BROKERS is set, off (and saying so once)
 * when it is not.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
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
