/**
 * A multi-host DATABASE_URL (`h1,h2 ... target_session_attrs=read-write`) against a real primary and
 * synchronous hot standby (test/support/postgres-pair.ts): the pool, the health probe and LISTEN
 * use the primary only, fail fast (an unavailable error, not a hang) while no host is one, and
 * follow a promotion without a restart. Unpatched, postgres.js took the standby for a read-write
 * server (it reports default_transaction_read_only off) and writes failed with SQLSTATE 25006.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import postgres from "postgres";
import { openDatabase, type DatabaseHandle } from "../../src/db/client.js";
import { isDatabaseUnavailable } from "../../src/ledger/ledger-error.js";
import { createPostgresPair, type PostgresPair } from "../support/postgres-pair.js";
import { until } from "../support/until.js";

let pair: PostgresPair;
before(async () => {
  pair = await createPostgresPair();
});
after(() => pair?.remove());

/** Settles within `ms` or fails the test: a query that waits for ever is the bug being pinned. */
function bounded<T>(promise: Promise<T>, ms = 10_000): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);
}

test("with the standby named first, every pooled connection and the probe use the primary", async () => {
  const handle = await openDatabase({ url: pair.multiHostUrl, poolSize: 8, pgliteDataDir: "" });
  try {
    const sql = handle.postgresClient!;
    // 32 concurrent queries open all 8 connections; each reports the server it runs on.
    const rows = await Promise.all(
      Array.from({ length: 32 }, () => sql<{ recovery: boolean; port: string }[]>`select pg_is_in_recovery() as recovery, current_setting('port') as port`),
    );
    for (const [row] of rows) assert.deepEqual({ ...row }, { recovery: false, port: String(pair.primaryPort) });
    await sql`create table if not exists pair_writes (id int primary key)`;
    await sql`insert into pair_writes values (1)`;
    await handle.ping!();
  } finally {
    await handle.close();
  }
});

test("while no host is a primary, queries fail fast as unavailable; after promotion the same pool and LISTEN work on the new primary", { timeout: 120_000 }, async () => {
  const handle: DatabaseHandle = await openDatabase({ url: pair.multiHostUrl, poolSize: 4, pgliteDataDir: "" });
  const direct = postgres(pair.urlOf(pair.standbyPort), { max: 1, onnotice: () => {} });
  try {
    const sql = handle.postgresClient!;
    const heard: string[] = [];
    let listens = 0;
    await sql.listen("pair_test", (payload) => heard.push(payload), () => listens++);
    assert.equal(listens, 1);
    await sql`create table if not exists pair_writes (id int primary key)`;
    // Acknowledged before the crash: synchronous replication has it on the standby too.
    await sql`insert into pair_writes values (2) on conflict do nothing`;

    pair.killPrimary();
    // The pool's connections die with the primary; each later attempt tries both hosts once (the
    // standby refuses a read-write session, the primary's port refuses the connection) and the
    // query fails at once with the last host's error. Unpatched, it waited for ever, or ran on the
    // standby and failed with 25006.
    for (let attempt = 0; attempt < 5; attempt++) {
      const error = await bounded(sql`insert into pair_writes values (3)`).then(
        () => assert.fail("a write succeeded with no primary"),
        (error: unknown) => error,
      );
      assert.ok(isDatabaseUnavailable(error), `not classified unavailable: ${String(error)}`);
      assert.notEqual((error as { code?: string }).code, "25006", "a write reached the standby");
    }
    // The health probe (its own connection, same URL) reports the outage too.
    await assert.rejects(bounded(handle.ping!()));

    pair.promoteStandby();
    await until("the pool writes to the promoted standby", async () => {
      try {
        await bounded(sql`insert into pair_writes values (3) on conflict do nothing`);
        return true;
      } catch {
        return false;
      }
    });
    const ids = (await sql<{ id: number }[]>`select id from pair_writes order by id`).map((row) => row.id);
    // 1 from the test above, 2 acknowledged by the old primary, 3 written on the new one.
    assert.deepEqual(ids, [1, 2, 3], "the write acknowledged by the old primary is on the new one");
    await until("the health probe answers", () => handle.ping!().then(() => true, () => false));

    // LISTEN was re-established on the new primary (its callback ran again) and hears NOTIFY there.
    await until("LISTEN re-established", () => listens >= 2);
    await direct`select pg_notify('pair_test', 'after failover')`;
    await until("the notification sent on the new primary", () => heard.includes("after failover"));
  } finally {
    await direct.end({ timeout: 1 });
    await handle.close();
  }
});
