import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { sql } from "drizzle-orm";
import { Ledger } from "../../src/ledger/ledger.js";
import { runHousekeeping } from "../../src/server/housekeeping.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { rows } from "../support/invariants.js";

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase(4);
});
after(() => database.drop());

it("deletes expired keys and old published events, keeps pending, dead and recent ones", async () => {
  const db = database.handle.db;
  const ledger = new Ledger(db, { idempotencyTtlHours: 24 });
  for (const id of ["old", "recent", "pending", "dead"]) {
    await ledger.createAccount({ accountId: id, currency: "USD", displayName: id }, { clientId: "c" });
  }
  await ledger.depositFunds({ idempotencyKey: "live", accountId: "recent", amountCents: 1n, currency: "USD" }, { clientId: "c" });
  await ledger.depositFunds({ idempotencyKey: "expired", accountId: "recent", amountCents: 2n, currency: "USD" }, { clientId: "c" });
  await db.execute(sql`update idempotency_keys set expires_at = now() - interval '1 minute' where key = 'expired'`);
  await db.execute(sql`update outbox set published_at = now() - interval '200 hours' where aggregate_id = 'old'`);
  await db.execute(sql`update outbox set published_at = now() - interval '1 hour' where aggregate_id = 'recent'`);
  await db.execute(sql`update outbox set dead_at = now() - interval '300 hours' where aggregate_id = 'dead'`);

  assert.deepEqual(await runHousekeeping(db, { outboxRetentionHours: 168 }), { idempotencyKeys: 1, publishedEvents: 1 });
  const left = await rows(db, sql`select distinct aggregate_id from outbox order by aggregate_id`);
  assert.deepEqual(left.map((r) => r.aggregate_id), ["dead", "pending", "recent"]);
  assert.deepEqual((await rows(db, sql`select key from idempotency_keys`)).map((r) => r.key), ["live"]);
});
