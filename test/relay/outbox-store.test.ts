/**
 * The relay's statements on a real PostgreSQL with a backlog: the claim returns the due heads of
 * their aggregates in (next attempt, id) order and its plan walks the pending index to the limit
 * instead of sorting the backlog (which made a relay that fell behind fall further); finish records
 * every outcome at once; the rows and answers crossing to SQL match their declarations.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { Compile } from "typebox/compile";
import { ClaimedRow, FinishResult, outboxStore, type OutboxStore } from "../../src/relay/outbox-store.js";
import { queryRows } from "../../src/db/query-rows.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

let database: TestDatabase;
let store: OutboxStore;

before(async () => {
  database = await createTestDatabase(2);
  store = outboxStore(database.handle);
  // 3,000 pending events: 1,000 aggregates of three events each, written in aggregate order.
  await database.handle.db.execute(sql`
    insert into outbox (event_id, event_type, aggregate_type, aggregate_id, envelope)
    select 'e' || g, 'AccountCreated', 'account', 'a' || ((g - 1) / 3), jsonb_build_object('pad', repeat('x', 500))
    from generate_series(1, 3000) g`);
  await database.handle.db.execute(sql`analyze outbox`);
});
after(() => database.drop());

const pending = async (eventIds: string[]) => [
  ...(await queryRows<{ event_id: string; attempts: number; published: boolean; dead: boolean; last_error: string | null }>(
    database.handle.db,
    sql`select event_id, attempts, published_at is not null as published, dead_at is not null as dead, last_error
          from outbox where event_id in ${eventIds} order by id`,
  )),
];

it("claims the due head of each aggregate, oldest first, up to the limit; a batch left unfinished changes nothing", async () => {
  const rows = await store.batch((session) => session.claim(100));
  assert.equal(rows.length, 100);
  // Each aggregate's first event only (e1, e4, e7, ...), in id order.
  assert.deepEqual(rows.map((row) => row.eventId), Array.from({ length: 100 }, (_, i) => `e${3 * i + 1}`));
  assert.deepEqual(JSON.parse(rows[0]!.value), { pad: "x".repeat(500) });
  assert.deepEqual(await pending(["e1"]), [{ event_id: "e1", attempts: 0, published: false, dead: false, last_error: null }]);
  assert.equal(await store.nextRetryInMs(), null, "no row waits for a retry");
});

it("answers with the declared row shape", async () => {
  const check = Compile(ClaimedRow);
  const rows = await queryRows<unknown>(database.handle.db, sql`select * from outbox_claim(5)`);
  assert.equal(rows.length, 5);
  for (const row of rows) assert.ok(check.Check(row), JSON.stringify([...check.Errors(row)]));
});

it("walks the pending index to the limit: no sort of the backlog", async () => {
  // The claim runs inside its function; auto_explain reports the plan of that nested statement.
  const plans: string[] = [];
  const client = postgres(database.url, { max: 1, onnotice: (notice) => void plans.push(String(notice.message)) });
  try {
    await client.begin(async (tx) => {
      await tx.unsafe("load 'auto_explain'");
      await tx.unsafe("set local auto_explain.log_min_duration = 0");
      await tx.unsafe("set local auto_explain.log_nested_statements = on");
      await tx.unsafe("set local auto_explain.log_level = notice");
      await tx.unsafe("select * from outbox_claim(100)");
    });
  } finally {
    await client.end();
  }
  const text = plans.find((plan) => plan.includes("outbox_pending_idx") || plan.includes("Limit")) ?? plans.join("\n");
  assert.match(text, /Index Scan using outbox_pending_idx/, text);
  assert.doesNotMatch(text, /Sort/, text);
});

it("finish records published, failed and dead rows in one statement and says when a successor waits", async () => {
  const check = Compile(FinishResult);
  const result = await store.batch(async (session) => {
    const rows = await session.claim(3); // e1, e4, e7
    const [published, failed, dead] = rows.map((row) => String(row.id));
    return session.finish({
      published: [published!],
      failed: [{ id: failed!, retryInMs: 60_000, error: "broker down" }],
      dead: [{ id: dead!, error: "too large" }],
    });
  });
  // e2 follows the published e1 (and e8 the dead e7): claimable now.
  assert.equal(result.successorsPending, true);
  assert.ok(result.nextRetryInMs !== null && result.nextRetryInMs > 50_000 && result.nextRetryInMs <= 60_000, String(result.nextRetryInMs));
  assert.deepEqual(await pending(["e1", "e4", "e7"]), [
    { event_id: "e1", attempts: 0, published: true, dead: false, last_error: null },
    { event_id: "e4", attempts: 1, published: false, dead: false, last_error: "broker down" },
    { event_id: "e7", attempts: 1, published: false, dead: true, last_error: "too large" },
  ]);
  const [raw] = await queryRows<unknown>(database.handle.db, sql`select * from outbox_finish('{"published":[],"failed":[],"dead":[]}')`);
  assert.ok(check.Check(raw), JSON.stringify(raw));
  assert.ok((await store.nextRetryInMs())! > 50_000);
});
