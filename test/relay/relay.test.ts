/**
 * The relay against the harness's real Kafka broker and real PostgreSQL, read back by the real
 * sample consumer: delivery of every ledger event, the dead-letter path, and two relays sharing
 * one outbox. Each test has its own database and topic prefix.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sql } from "drizzle-orm";
import { ulid } from "ulid";
import { queryRows } from "../../src/db/query-rows.js";
import { outbox } from "../../src/db/schema.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { OutboxRelay, type RelayOptions } from "../../src/relay/relay.js";
import { OUTBOX_CHANNEL, listenForOutbox } from "../../src/relay/wakeup.js";
import { typeSlug } from "../../src/outbox/event-schemas.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { until } from "../support/until.js";
import {
  capturingLogger,
  fastRelayOptions,
  harnessBrokers,
  kafkaFor,
  orderViolations,
  outboxRows,
  publishOrderViolations,
  recordEvents,
  uniquePrefix,
  type EventLog,
} from "./fixtures.js";

const ctx = { clientId: "relay-test", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" };
const { logger, lines } = capturingLogger();
const kafka = kafkaFor(harnessBrokers(), logger);

/** One database, one prefix, a consumer and the relays of one test. */
async function setUp(relayCount: number, overrides: Partial<RelayOptions> = {}) {
  const database = await createTestDatabase();
  const prefix = uniquePrefix();
  const log = await recordEvents(kafka, prefix, logger);
  const relays = Array.from(
    { length: relayCount },
    (_, i) =>
      new OutboxRelay(
        { database: database.handle, kafka, wakeups: listenForOutbox(database.handle), logger, instanceId: `${prefix}-r${i}` },
        fastRelayOptions(prefix, overrides),
      ),
  );
  await Promise.all(relays.map((relay) => relay.start()));
  const ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 1 });
  return {
    database,
    prefix,
    log,
    relays,
    ledger,
    async tearDown() {
      await Promise.all(relays.map((relay) => relay.stop()));
      await log.stop();
      await database.drop();
    },
  };
}

let keys = 0;
const key = () => `k-${++keys}`;

async function account(ledger: Ledger, currency = "EUR") {
  return (await ledger.createAccount({ currency, displayName: "relay test", accountId: "" }, ctx)).accountId;
}

/** Waits until the consumer has read every event id in the outbox at least once. */
async function allDelivered(database: TestDatabase, log: EventLog, timeoutMs = 30_000) {
  const expected = new Set((await outboxRows(database.handle.db)).map((row) => row.eventId));
  await log.waitFor(`${expected.size} events`, (events) => {
    const seen = new Set(events.map((e) => e.eventId));
    return [...expected].every((id) => seen.has(id));
  }, timeoutMs);
  // A consumer may read a message before the relay's transaction that marks its row commits.
  await until("the relay to mark every delivered row", async () =>
    (await outboxRows(database.handle.db)).every((row) => row.publishedAt !== null || row.deadAt !== null), { timeoutMs });
  return expected;
}

describe("outbox relay on a real broker", () => {
  it("delivers every committed account, deposit and payment as its schema-valid event, woken by NOTIFY", async () => {
    // A fallback poll far longer than the wait below: delivery in time proves the LISTEN/NOTIFY path.
    const t = await setUp(1, { pollIntervalMs: 120_000 });
    try {
      // Let the relay's first (empty) pass finish so that what follows depends on notifications.
      await until("the relay to wait for notifications", () => t.relays[0]!.waiting);
      const payer = await account(t.ledger);
      const payee = await account(t.ledger);
      const usd = await account(t.ledger, "USD");
      for (let i = 0; i < 5; i++) {
        await t.ledger.depositFunds({ idempotencyKey: key(), accountId: payer, amountCents: 1_000n, currency: "EUR" }, ctx);
      }
      const pay = (payeeId: string, cents: bigint) =>
        t.ledger.authorizePayment(
          { idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payeeId, amountCents: cents, currency: "EUR", description: "test" },
          ctx,
        );
      for (let i = 0; i < 5; i++) assert.equal((await pay(payee, 300n)).status, "AUTHORIZED");
      assert.equal((await pay(payee, 1_000_000n)).status, "DECLINED");
      assert.equal((await pay(usd, 100n)).status, "DECLINED");

      const rows = await outboxRows(t.database.handle.db);
      const types = new Set(rows.map((row) => row.eventType));
      assert.deepEqual([...types].sort(), ["AccountCreated", "FundsDeposited", "PaymentAuthorized", "PaymentDeclined"]);
      await allDelivered(t.database, t.log, 15_000);

      const byId = new Map(t.log.events.map((e) => [e.eventId, e]));
      for (const row of rows) {
        const event = byId.get(row.eventId)!;
        assert.deepEqual(event.problems, [], `${row.eventType} ${row.eventId} is valid against schemas/`);
        assert.equal(event.topic, `${t.prefix}.${typeSlug(row.eventType)}`);
        assert.equal(event.key, row.aggregateId);
        assert.equal(event.eventType, row.eventType);
        assert.equal((event.value as { eventId: string }).eventId, row.eventId);
        assert.equal(event.traceparent, ctx.traceparent);
      }
      assert.deepEqual(orderViolations(t.log.events, rows), []);
      const after = await outboxRows(t.database.handle.db);
      assert.ok(after.every((row) => row.publishedAt !== null && row.deadAt === null), "every row is marked published");
      assert.equal(t.relays[0]!.counts.published, rows.length);
      assert.deepEqual(await t.relays[0]!.backlog(), { pending: 0, oldestAgeSeconds: 0 });
    } finally {
      await t.tearDown();
    }
  });

  it("moves a message over the broker's size limit to the dead-letter topic after the configured attempts", async () => {
    const t = await setUp(1, { maxAttempts: 3 });
    try {
      const payer = await account(t.ledger);
      // The writer would refuse this event (description over 500 characters), so it is inserted
      // the way a buggy writer would: a 1.1 MB message, over Kafka's 1 MB default limit.
      const poisonId = ulid();
      const poisonAggregate = `poison-${poisonId}`;
      await t.database.handle.db.insert(outbox).values({
        eventId: poisonId,
        eventType: "AccountCreated",
        aggregateType: "account",
        aggregateId: poisonAggregate,
        envelope: { eventId: poisonId, type: "AccountCreated", payload: { displayName: "x".repeat(1_100_000) } },
      });
      // A later event of the same aggregate must wait for the poison and then flow.
      const followerId = ulid();
      await t.database.handle.db.insert(outbox).values({
        eventId: followerId,
        eventType: "AccountCreated",
        aggregateType: "account",
        aggregateId: poisonAggregate,
        envelope: { eventId: followerId, type: "AccountCreated" },
      });
      for (let i = 0; i < 10; i++) {
        await t.ledger.depositFunds({ idempotencyKey: key(), accountId: payer, amountCents: 100n, currency: "EUR" }, ctx);
      }

      // Generous: three attempts with backoff, then a consumer assigned 36 partitions on a loaded
      // 2-core machine (seen: the acknowledged dead letter read after more than 30 s).
      await t.log.waitFor("the dead letter", (events) => events.some((e) => e.topic === `${t.prefix}.dlq`), 90_000);
      const deadLetter = t.log.events.find((e) => e.topic === `${t.prefix}.dlq`)!;
      assert.deepEqual(deadLetter.problems, [], "the dead-letter record is valid against schemas/dead-letter.json");
      const record = deadLetter.value as Record<string, unknown>;
      assert.equal(record.eventId, poisonId);
      assert.equal(record.attempts, 3);
      assert.equal(record.topic, `${t.prefix}.account-created`);
      assert.match(String(record.lastError), /too large/i);
      assert.equal(record.truncated, true);
      assert.ok(Number(record.eventBytes) > 1_000_000);
      assert.equal(deadLetter.key, poisonAggregate);

      await allDelivered(t.database, t.log);
      const rows = await outboxRows(t.database.handle.db);
      const poison = rows.find((row) => row.eventId === poisonId)!;
      assert.ok(poison.deadAt && !poison.publishedAt, "the poison row is dead, not published");
      assert.equal(poison.attempts, 3);
      const others = rows.filter((row) => row.eventId !== poisonId);
      assert.ok(others.every((row) => row.publishedAt), "every other event was published");
      const follower = rows.find((row) => row.eventId === followerId)!;
      assert.ok(follower.publishedAt! >= poison.deadAt!, "the poison's successor waited for it");
      const onTopic = t.log.events.filter((e) => e.eventId === poisonId && !e.topic.endsWith(".dlq"));
      assert.deepEqual(onTopic, [], "the poison never reached its topic");
      assert.equal(t.relays[0]!.counts.deadLettered, 1);
      assert.ok(lines.some((line) => line.msg === "relay: event moved to the dead-letter topic" && line.eventId === poisonId));
    } finally {
      await t.tearDown();
    }
  });

  it("delivers a run of one aggregate's events written at once, each after the one before, on one notification", async () => {
    // No fallback poll within the test: after the first event, only the relay's own check that
    // publishing made the next one claimable can move the run along.
    const t = await setUp(1, { pollIntervalMs: 120_000 });
    try {
      await until("the relay to wait for notifications", () => t.relays[0]!.waiting);
      const ids = Array.from({ length: 5 }, () => ulid());
      await t.database.handle.db.insert(outbox).values(
        ids.map((eventId) => ({ eventId, eventType: "AccountCreated", aggregateType: "account", aggregateId: "run", envelope: { eventId, type: "AccountCreated" } })),
      );
      // One notification after the commit, as the service sends it (src/ledger/change-notifier.ts).
      await t.database.handle.db.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, '')`);
      await t.log.waitFor("the five events of the run", (events) => ids.every((id) => events.some((e) => e.eventId === id)), 15_000);
      assert.deepEqual(orderViolations(t.log.events, await outboxRows(t.database.handle.db)), [], "in outbox order");
    } finally {
      await t.tearDown();
    }
  });

  it("serves the commits of one linger window with one claim", async () => {
    const t = await setUp(1, { pollIntervalMs: 120_000, lingerMs: 1_500 });
    try {
      await until("the relay to wait for notifications", () => t.relays[0]!.waiting);
      // Separate commits, each with its own notification, as single payments arrive.
      const commit = async (aggregateId: string) => {
        const eventId = ulid();
        await t.database.handle.db.insert(outbox).values({ eventId, eventType: "AccountCreated", aggregateType: "account", aggregateId, envelope: { eventId, type: "AccountCreated" } });
        await t.database.handle.db.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, '')`);
        return eventId;
      };
      // The batch that marked each row published: its transaction id is the row version's xmin.
      const batchOf = async () => {
        const rows = await queryRows<{ event_id: string; batch: string }>(
          t.database.handle.db,
          sql`select event_id, xmin::text as batch from outbox where published_at is not null`,
        );
        return new Map(rows.map((row) => [row.event_id, row.batch]));
      };
      const first = await commit("window-a");
      await until("the first event published", async () => (await batchOf()).has(first));
      // Committed while the window that the first claim opened is still running: one claim at its end.
      const rest = await Promise.all(["window-b", "window-c", "window-d"].map(commit));
      let batches = new Map<string, string>();
      await until("the window's events published", async () => {
        batches = await batchOf();
        return rest.every((id) => batches.has(id));
      });
      assert.equal(new Set(rest.map((id) => batches.get(id))).size, 1, "one batch for the window's commits");
      assert.notEqual(batches.get(rest[0]!), batches.get(first));
    } finally {
      await t.tearDown();
    }
  });

  it("two relays on one outbox lose nothing and keep each aggregate's order", async () => {
    const t = await setUp(2, { batchSize: 20 });
    try {
      const accounts = await Promise.all(Array.from({ length: 4 }, () => account(t.ledger)));
      // Concurrent writers: hot accounts receive many deposits each, so both relays see
      // consecutive events of the same aggregates.
      const writes = Array.from({ length: 6 }, async (_, w) => {
        for (let i = 0; i < 40; i++) {
          const accountId = accounts[(w + i) % accounts.length]!;
          await t.ledger.depositFunds({ idempotencyKey: key(), accountId, amountCents: 10n, currency: "EUR" }, ctx);
          if (i % 4 === 0) {
            await t.ledger.authorizePayment(
              { idempotencyKey: key(), payerAccountId: accountId, payeeAccountId: accounts[(w + i + 1) % 4]!, amountCents: 5n, currency: "EUR", description: "" },
              ctx,
            );
          }
        }
      });
      await Promise.all(writes);
      const expected = await allDelivered(t.database, t.log, 60_000);
      const rows = await outboxRows(t.database.handle.db);
      assert.equal(expected.size, rows.length);
      assert.ok(rows.every((row) => row.publishedAt), "every row is marked published");
      assert.deepEqual(orderViolations(t.log.events, rows), [], "per key, Kafka order = outbox order");
      assert.deepEqual(await publishOrderViolations(t.database.handle.db), [], "per aggregate, publish order = outbox order");
      const [first, second] = t.relays.map((relay) => relay.counts.published);
      assert.ok(first! > 0 && second! > 0, `both relays did work (${first} and ${second})`);
      assert.equal(first! + second!, rows.length, "no row was published twice");
      assert.deepEqual(t.log.events.filter((e) => e.duplicate), [], "no redeliveries without a crash");
    } finally {
      await t.tearDown();
    }
  });

  it("honours a row's backoff without spinning, and its aggregate's next event waits for it", async () => {
    const t = await setUp(1);
    try {
      const db = t.database.handle.db;
      // An event in backoff for 3 s (as after a failed attempt) and a due successor behind it.
      const [head, next] = [ulid(), ulid()];
      await db.insert(outbox).values({
        eventId: head, eventType: "AccountCreated", aggregateType: "account", aggregateId: "held",
        envelope: { eventId: head }, attempts: 1, nextAttemptAt: sql`now() + interval '3 seconds'`,
      });
      await db.insert(outbox).values({
        eventId: next, eventType: "AccountCreated", aggregateType: "account", aggregateId: "held", envelope: { eventId: next },
      });
      const transactions = async () => {
        const result = await db.execute(sql`select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()`);
        return Number(([...(result as unknown as { n: string }[])][0])!.n);
      };
      const before = await transactions();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const idle = (await transactions()) - before;
      // With a 200 ms poll: about 10 claim transactions. A relay that spun on the due but blocked
      // successor would run hundreds per second.
      assert.ok(idle < 100, `${idle} transactions in 2 s while waiting for a backoff`);
      assert.equal(t.log.events.length, 0, "nothing published before the head's backoff is over");

      await t.log.waitFor("both events", (events) => events.length >= 2, 15_000);
      assert.deepEqual(t.log.events.map((e) => e.eventId), [head, next]);
      const rows = await outboxRows(db);
      assert.ok(rows[0]!.publishedAt! >= new Date(rows[0]!.nextAttemptAt.getTime() - 5), "published after its backoff");
    } finally {
      await t.tearDown();
    }
  });
});
