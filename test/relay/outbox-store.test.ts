/**
 * The relay's claim on a real PostgreSQL with a backlog: it returns the due heads of their
 * aggregates in (next attempt, id) order, and its plan walks the pending index and stops at the
 * limit instead of sorting the whole backlog (which made a relay that fell behind fall further).
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { sql } from "drizzle-orm";
import { claimBatch, claimQuery } from "../../src/relay/outbox-store.js";
import { queryRows } from "../../src/db/query-rows.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

let database: TestDatabase;

before(async () => {
  database = await createTestDatabase(2);
  // 3,000 pending events: 1,000 aggregates of three events each, written in aggregate order.
  await database.handle.db.execute(sql`
    insert into outbox (event_id, event_type, aggregate_type, aggregate_id, envelope)
    select 'e' || g, 'AccountCreated', 'account', 'a' || ((g - 1) / 3), jsonb_build_object('pad', repeat('x', 500))
    from generate_series(1, 3000) g`);
  await database.handle.db.execute(sql`analyze outbox`);
});
after(() => database.drop());

it("claims the due head of each aggregate, oldest first, up to the limit", async () => {
  // Claiming only locks: the transaction changes nothing either way.
  await database.handle.db.transaction(async (tx) => {
    const rows = await claimBatch(tx, 100);
    assert.equal(rows.length, 100);
    // Each aggregate's first event only (e1, e4, e7, ...), in id order.
    assert.deepEqual(rows.map((row) => row.eventId), Array.from({ length: 100 }, (_, i) => `e${3 * i + 1}`));
  });
});

it("walks the pending index to the limit: no sort of the backlog", async () => {
  await database.handle.db.transaction(async (tx) => {
    await claimBatch(tx, 100); // sets the transaction's planner settings as every claim does
    const plan = await queryRows<{ "QUERY PLAN": string }>(tx, sql`explain ${claimQuery(tx, 100)}`);
    const text = plan.map((line) => line["QUERY PLAN"]).join("\n");
    assert.match(text, /Index Scan using outbox_pending_idx/, text);
    assert.doesNotMatch(text, /Sort/, text);
  });
});
