/**
 * `npm run relay` as a real process: SIGKILLed in the middle of a batch (messages delivered, their
 * rows not yet marked), then started again. Nothing may be lost; the only duplicates allowed are
 * redeliveries of the killed batch, with the same event id, and they are counted.
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

async function publishedCount(): Promise<number> {
  return (await database.handle.db.select({ id: outbox.id }).from(outbox).where(isNotNull(outbox.publishedAt))).length;
}

before(async () => {
  database = await createTestDatabase();
  log = await recordEvents(kafkaFor(harnessBrokers(), logger), prefix, logger);
});

after(async () => {
  await log?.stop();
  await database?.drop();
});

it("loses nothing when the relay process is SIGKILLed mid-batch and restarted", async (t) => {
  const ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 1 });
  const ctx = { clientId: "kill-test" };
  const accounts: string[] = [];
  for (let i = 0; i < 8; i++) {
    accounts.push((await ledger.createAccount({ currency: "EUR", displayName: "k", accountId: "" }, ctx)).accountId);
  }
  // A backlog of single-event aggregates (payments) and ordered ones (deposits per account).
  await Promise.all(
    accounts.map(async (accountId, a) => {
      for (let i = 0; i < 60; i++) {
        await ledger.depositFunds({ idempotencyKey: `d-${a}-${i}`, accountId, amountCents: 100n, currency: "EUR" }, ctx);
        await ledger.authorizePayment(
          { idempotencyKey: `p-${a}-${i}`, payerAccountId: accountId, payeeAccountId: accounts[(a + 1) % 8]!, amountCents: 10n, currency: "EUR", description: "" },
          ctx,
        );
      }
    }),
  );
  const rows = await outboxRows(database.handle.db);

  const first = startRelayProcess();
  // Let some batches complete, then stall the relay between delivery and commit: a SHARE lock on
  // the table lets it claim (FOR UPDATE) and publish, but blocks its UPDATE marking the rows. Once
  // the consumer has read events that are not marked published, a batch is delivered and
  // uncommitted: kill the relay right there.
  const deadline = Date.now() + 60_000;
  const waitFor = async (what: string, check: () => Promise<boolean>) => {
    while (!(await check())) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}:\n${first.output.join("")}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  await waitFor("100 published", async () => (await publishedCount()) >= 100);
  const blocker = await database.handle.postgresClient!.reserve();
  await blocker`begin`;
  await blocker`lock table outbox in share mode`;
  const publishedAtKill = await publishedCount();
  await waitFor("a delivered, unmarked batch", async () => {
    const read = new Set(log.events.map((e) => e.eventId)).size;
    return read > publishedAtKill && (await batchInFlight());
  });
  const unmarkedReads = new Set(log.events.map((e) => e.eventId)).size - publishedAtKill;
  first.kill("SIGKILL");
  await once(first, "exit");
  await blocker`rollback`;
  blocker.release();
  const publishedAfterKill = await publishedCount();
  assert.ok(publishedAfterKill < rows.length, "the killed relay left work behind");

  const second = startRelayProcess();
  try {
    await log.waitFor("every event after the restart", (events) => {
      const seen = new Set(events.map((e) => e.eventId));
      return rows.every((row) => seen.has(row.eventId));
    }, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    second.kill("SIGTERM");
  }
  const [code] = await once(second, "exit");
  assert.equal(code, 0, `graceful exit on SIGTERM:\n${second.output.join("")}`);
  assert.match(second.output.join(""), /relay: stopped/);

  const final = await outboxRows(database.handle.db);
  assert.ok(final.every((row) => row.publishedAt), "every row is marked published");
  const ids = new Set(final.map((row) => row.eventId));
  const duplicates = log.events.filter((e) => e.duplicate);
  assert.ok(duplicates.every((e) => ids.has(e.eventId)), "duplicates are redeliveries of outbox events");
  const firstCopy = new Map(log.events.filter((e) => !e.duplicate).map((e) => [e.eventId, e.value]));
  for (const copy of duplicates) assert.deepEqual(copy.value, firstCopy.get(copy.eventId), "a redelivery is the same event");
  // Exactly the killed batch comes twice: delivered before the kill, redelivered after the restart.
  assert.ok(duplicates.length >= unmarkedReads && duplicates.length <= 100, `${duplicates.length} redeliveries`);
  assert.equal(log.events.length - duplicates.length, rows.length, "each event read once after de-duplication");
  assert.deepEqual(orderViolations(log.events, final), [], "per key, first deliveries keep outbox order");
  t.diagnostic(
    `killed with ${publishedAtKill} of ${rows.length} marked published and ${unmarkedReads} more already read; ` +
      `${duplicates.length} redelivered after the restart (same event ids, de-duplicated by the consumer)`,
  );
});
