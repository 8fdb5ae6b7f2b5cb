/**
 * `npm run relay` as a real process, stopped in the middle of a batch (messages delivered, rows not
 * yet marked): by SIGKILL, where the batch comes again after a restart (same event ids, counted),
 * and by SIGTERM, where the relay finishes the batch before it exits and nothing comes twice.
 *
 * To stop it at exactly that point, the test holds a SHARE lock on the outbox table: the relay can
 * still claim (FOR UPDATE) and publish, but its UPDATE marking the rows waits for the lock.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { after, before, it } from "node:test";
import { isNotNull, sql } from "drizzle-orm";
import { outbox } from "../../src/db/schema.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import {
  capturingLogger,
  harnessBrokers,
  kafkaFor,
  orderViolations,
  outboxRows,
  recordEvents,
  uniquePrefix,
  type EventLog,
} from "./fixtures.js";
import { until } from "../support/until.js";

const root = new URL("../..", import.meta.url).pathname;
const prefix = uniquePrefix();
const { logger } = capturingLogger();
let database: TestDatabase;
let log: EventLog;

function startRelayProcess(): ChildProcess & { output: string[] } {
  const child = spawn(process.execPath, ["--import", "tsx", "src/relay/relay-cli.ts"], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: database.url,
      KAFKA_BROKERS: harnessBrokers(),
      KAFKA_TOPIC_PREFIX: prefix,
      RELAY_BATCH_SIZE: "100",
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  }) as ChildProcess & { output: string[] };
  child.output = [];
  child.stdout!.on("data", (chunk: Buffer) => child.output.push(chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => child.output.push(chunk.toString()));
  return child;
}

/** True while some transaction holds claimed outbox rows (FOR UPDATE takes RowShareLock). */
async function batchInFlight(): Promise<boolean> {
  const result = await database.handle.db.execute(sql`
    select 1 from pg_locks l join pg_class c on c.oid = l.relation
    where c.relname = 'outbox' and l.mode = 'RowShareLock'
      and l.database = (select oid from pg_database where datname = current_database())`);
  return [...(result as unknown as unknown[])].length > 0;
}

/** How many of `ids` are marked published. */
async function publishedCount(ids: Set<string>): Promise<number> {
  const rows = await database.handle.db.select({ eventId: outbox.eventId }).from(outbox).where(isNotNull(outbox.publishedAt));
  return rows.filter((row) => ids.has(row.eventId)).length;
}

before(async () => {
  database = await createTestDatabase();
  log = await recordEvents(kafkaFor(harnessBrokers(), logger), prefix, logger);
});

after(async () => {
  await log?.stop();
  await database?.drop();
});

const ctx = { clientId: "relay-cli-test" };

/** Commits deposits (ordered per account) and payments (one event each); returns their event ids. */
async function writeBacklog(tag: string, perAccount: number): Promise<Set<string>> {
  const before = new Set((await outboxRows(database.handle.db)).map((row) => row.eventId));
  const ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 1 });
  const accounts: string[] = [];
  for (let i = 0; i < 8; i++) {
    accounts.push((await ledger.createAccount({ currency: "EUR", displayName: tag, accountId: "" }, ctx)).accountId);
  }
  await Promise.all(
    accounts.map(async (accountId, a) => {
      for (let i = 0; i < perAccount; i++) {
        await ledger.depositFunds({ idempotencyKey: `${tag}-d-${a}-${i}`, accountId, amountCents: 100n, currency: "EUR" }, ctx);
        await ledger.authorizePayment(
          { idempotencyKey: `${tag}-p-${a}-${i}`, payerAccountId: accountId, payeeAccountId: accounts[(a + 1) % 8]!, amountCents: 10n, currency: "EUR", description: "" },
          ctx,
        );
      }
    }),
  );
  const rows = await outboxRows(database.handle.db);
  return new Set(rows.map((row) => row.eventId).filter((id) => !before.has(id)));
}

const readOf = (ids: Set<string>) => new Set(log.events.filter((e) => ids.has(e.eventId)).map((e) => e.eventId)).size;

/**
 * Lets `relay` publish at least 100 of `ids`, then stalls it with a delivered but unmarked batch.
 * Returns how many were marked before the stall, how many more were read, and the lock to release.
 */
async function stallWithDeliveredBatch(relay: ReturnType<typeof startRelayProcess>, ids: Set<string>) {
  const output = () => relay.output.join("");
  await until("100 published", async () => (await publishedCount(ids)) >= 100, { timeoutMs: 60_000, intervalMs: 10, detail: output });
  const lock = await database.handle.postgresClient!.reserve();
  await lock`begin`;
  await lock`lock table outbox in share mode`;
  const marked = await publishedCount(ids);
  await until("a delivered, unmarked batch", async () => readOf(ids) > marked && (await batchInFlight()), { timeoutMs: 60_000, intervalMs: 10, detail: output });
  return {
    marked,
    unmarkedReads: readOf(ids) - marked,
    async release() {
      await lock`rollback`;
      lock.release();
    },
  };
}

/**
 * Runs a relay process until every one of `ids` was read and `redeliveries` of them were read a
 * second time, then stops it with SIGTERM: exit 0. (When the stalled batch was the last one, every
 * id was read before the restart: waiting for the ids alone stopped the relay before it redelivered.)
 */
async function relayUntilAllRead(ids: Set<string>, redeliveries = 0): Promise<void> {
  const relay = startRelayProcess();
  const redelivered = () => log.events.filter((e) => ids.has(e.eventId) && e.duplicate).length;
  try {
    await log.waitFor("every event after the restart", () => readOf(ids) === ids.size && redelivered() >= redeliveries, 60_000);
    // Time for a wrongly repeated delivery to show up before the counts are taken.
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    relay.kill("SIGTERM");
  }
  const [code] = await once(relay, "exit");
  assert.equal(code, 0, `graceful exit on SIGTERM:\n${relay.output.join("")}`);
  assert.match(relay.output.join(""), /relay: stopped/);
}

it("loses nothing when the relay process is SIGKILLed mid-batch and restarted", async (t) => {
  const ids = await writeBacklog("kill", 60);
  const first = startRelayProcess();
  const stall = await stallWithDeliveredBatch(first, ids);
  first.kill("SIGKILL");
  await once(first, "exit");
  await stall.release();
  const publishedAfterKill = await publishedCount(ids);
  assert.equal(publishedAfterKill, stall.marked, "the killed batch was not marked");

  await relayUntilAllRead(ids, stall.unmarkedReads);

  const final = await outboxRows(database.handle.db);
  assert.ok(final.every((row) => row.publishedAt), "every row is marked published");
  const events = log.events.filter((e) => ids.has(e.eventId));
  const duplicates = events.filter((e) => e.duplicate);
  const firstCopy = new Map(events.filter((e) => !e.duplicate).map((e) => [e.eventId, e.value]));
  for (const copy of duplicates) assert.deepEqual(copy.value, firstCopy.get(copy.eventId), "a redelivery is the same event");
  // Exactly the killed batch comes twice: delivered before the kill, redelivered after the restart.
  assert.ok(duplicates.length >= stall.unmarkedReads && duplicates.length <= 100, `${duplicates.length} redeliveries`);
  assert.equal(events.length - duplicates.length, ids.size, "each event read once after de-duplication");
  assert.deepEqual(orderViolations(log.events, final), [], "per key, first deliveries keep outbox order");
  t.diagnostic(
    `killed with ${stall.marked} of ${ids.size} marked published and ${stall.unmarkedReads} more already read; ` +
      `${duplicates.length} redelivered after the restart (same event ids, de-duplicated by the consumer)`,
  );
});

it("on SIGTERM finishes and records the batch in flight before exiting: nothing comes twice", async () => {
  const ids = await writeBacklog("term", 30);
  const relay = startRelayProcess();
  const stall = await stallWithDeliveredBatch(relay, ids);
  relay.kill("SIGTERM");
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(relay.exitCode, null, "still finishing its batch while the marking waits");
  await stall.release();
  const [code] = await once(relay, "exit");
  assert.equal(code, 0, relay.output.join(""));
  assert.ok((await publishedCount(ids)) >= stall.marked + stall.unmarkedReads, "the delivered batch was marked before exit");

  await relayUntilAllRead(ids);
  const duplicates = log.events.filter((e) => ids.has(e.eventId) && e.duplicate);
  assert.deepEqual(duplicates.map((e) => e.eventId), [], "no redelivery after a graceful stop");
});
