import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { sql, TransactionRollbackError } from "drizzle-orm";
import { batchOfRows } from "../../src/db/batched-delete.js";
import { outbox } from "../../src/db/schema.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { publishedBefore } from "../../src/outbox/outbox-retention.js";
import { runHousekeeping } from "../../src/server/housekeeping.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { rows } from "../support/invariants.js";
import { startTestService } from "../support/service.js";
import { until } from "../support/until.js";

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

it("the service's hold sweeper releases a hold once it is due", async () => {
  const running = await startTestService({ HOLD_SWEEP_INTERVAL_MS: "100" });
  try {
    const { ledger, database: handle } = running.service;
    const ctx = { clientId: "sweeper" };
    for (const accountId of ["holder", "merchant"]) await ledger.createAccount({ currency: "USD", displayName: accountId, accountId }, ctx);
    await ledger.depositFunds({ idempotencyKey: "fund", accountId: "holder", amountCents: 500n, currency: "USD" }, ctx);
    const hold = await ledger.authorizePayment(
      { idempotencyKey: "hold", payerAccountId: "holder", payeeAccountId: "merchant", amountCents: 300n, currency: "USD", description: "", captureMethod: "MANUAL" },
      ctx,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await ledger.getPayment(hold.paymentId)).status, "REQUIRES_CAPTURE", "not released before it is due");
    await handle.db.execute(sql`update payment_states set hold_expires_at = now() - interval '1 second' where payment_id = ${hold.paymentId}`);
    await until("the hold expired", async () => (await ledger.getPayment(hold.paymentId)).status === "EXPIRED");
    assert.equal((await ledger.getBalance("holder")).availableCents, 500n);
    assert.ok(running.logs.some((line) => line.msg === "expired holds released"));
  } finally {
    await running.stop();
  }
});

it("a retention round finds its rows through the published-time index, not by reading the whole outbox", async () => {
  // 2,000 events published an hour ago: none due, so a round that read the outbox to find out
  // would read all of them (and a week of events in production, every round).
  const db = database.handle.db;
  await db.execute(sql`insert into outbox (event_id, event_type, aggregate_type, aggregate_id, envelope, published_at)
    select 'retention-' || g, 'Test', 'test', 'retention', '{}'::jsonb, now() - interval '1 hour' from generate_series(1, 2000) g`);
  await db.execute(sql`analyze outbox`);
  const plan = async () => JSON.stringify(await rows(db, sql`explain (format json) ${batchOfRows(outbox, publishedBefore(168))}`));
  const withIndex = await plan();
  assert.match(withIndex, /outbox_published_idx/);
  assert.doesNotMatch(withIndex, /Seq Scan/);
  // Negative control: without the index (dropped in a transaction that rolls back) the same query reads the table.
  let withoutIndex = "";
  await db
    .transaction(async (tx) => {
      await tx.execute(sql`drop index outbox_published_idx`);
      withoutIndex = JSON.stringify(await tx.execute(sql`explain (format json) ${batchOfRows(outbox, publishedBefore(168))}`));
      tx.rollback();
    })
    .catch((error: unknown) => {
      if (!(error instanceof TransactionRollbackError)) throw error;
    });
  assert.match(withoutIndex, /Seq Scan/);
  assert.match(await plan(), /outbox_published_idx/, "the index is back");
});
