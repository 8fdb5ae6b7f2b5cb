/**
 * READ_DATABASE_URL: the read side on a real hot standby (test/support/postgres-pair.ts) within a
 * staleness bound measured from WAL positions, the primary otherwise (replica behind, replay
 * paused, or down), and read-your-writes: a client that just wrote reads from the primary until the
 * replica has its write, while other clients keep reading from the replica.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "drizzle-orm";
import { loadConfig } from "../../src/config/config.js";
import { openDatabase, type Database, type DatabaseHandle } from "../../src/db/client.js";
import { ReadReplica } from "../../src/db/read-replica.js";
import { startService } from "../../src/server/service.js";
import { testKey } from "../support/api-keys.js";
import { createClient } from "@connectrpc/connect";
import { AdminService } from "../../gen/payment/v1/admin_pb.js";
import { jsonClients, transportFactories } from "../support/clients.js";
import { capturingLogger } from "../support/logs.js";
import { createPostgresPair, type PostgresPair } from "../support/postgres-pair.js";
import { until } from "../support/until.js";

let pair: PostgresPair;
let primary: DatabaseHandle;
before(async () => {
  pair = await createPostgresPair();
  primary = await openDatabase({ url: pair.urlOf(pair.primaryPort), poolSize: 2, pgliteDataDir: "" });
});
after(async () => {
  await primary?.close();
  pair?.remove();
});

const inRecovery = async (db: Database) => ((await db.execute(sql`select pg_is_in_recovery() as r`)) as unknown as { r: boolean }[])[0]!.r;
const pauseReplay = () => pair.psql(pair.standbyPort, "select pg_wal_replay_pause()");
const resumeReplay = () => pair.psql(pair.standbyPort, "select pg_wal_replay_resume()");

test("reads go to the replica while it is within the bound, to the primary while it lags, and back", async () => {
  const { logger, lines } = capturingLogger();
  const reads = await ReadReplica.open({
    primary,
    primaryUrl: pair.urlOf(pair.primaryPort),
    replicaUrl: pair.urlOf(pair.standbyPort),
    maxStalenessMs: 500,
    poolSize: 2,
    logger,
  });
  try {
    await until("the replica chosen", async () => inRecovery(reads.choose()));
    assert.ok(reads.stalenessMs < 500);

    // A write the replica has not replayed: the writer's next read goes to the primary at once,
    // others keep the replica until it is more than the bound behind.
    pauseReplay();
    await primary.db.execute(sql`create table if not exists replica_probe (id int)`);
    const writtenAt = performance.now();
    assert.equal(await inRecovery(reads.choose(writtenAt)), false, "read-your-writes: the writer reads from the primary");
    await until("reads moved to the primary", async () => !(await inRecovery(reads.choose())));
    assert.ok(reads.stalenessMs > 500);
    assert.ok(lines.some((line) => line.msg === "read replica behind or unreachable: reads served by the primary"));

    resumeReplay();
    await until("the replica chosen again, for the writer too", async () => inRecovery(reads.choose(writtenAt)));
    await reads.choose(writtenAt).execute(sql`select count(*) from replica_probe`);
    assert.ok(lines.some((line) => line.msg === "read replica caught up: reads served by it"));
  } finally {
    await reads.close();
  }
});

test("the service serves lists from the replica, a client's own writes from the primary, and everything from the primary when the replica is down", async () => {
  const writer = testKey("writer");
  const reader = testKey("reader");
  const config = loadConfig({
    DATABASE_URL: pair.urlOf(pair.primaryPort),
    READ_DATABASE_URL: pair.urlOf(pair.standbyPort),
    // Long enough that the paused replica stays in use for readers who did not write.
    READ_MAX_STALENESS_MS: "600000",
    API_KEYS: `${writer.entry},${reader.entry}`,
    HOST: "127.0.0.1",
    PORT: "0",
    METRICS_PORT: "0",
    RATE_LIMIT_POINTS: "0",
    LOG_LEVEL: "warn",
  });
  const { logger } = capturingLogger("warn");
  const service = await startService(config, logger);
  try {
    const asWriter = jsonClients(service.url, writer.key);
    const asReader = jsonClients(service.url, reader.key);
    const names = async (clients: typeof asWriter) =>
      (await clients.accounts.listAccounts({ displayNamePrefix: "replica-", pageSize: 50 })).accounts.map((a) => a.displayName);
    // The migrations reached the replica before the reads start.
    await until("the replica serves the schema", () => names(asReader).then(() => true, () => false));

    pauseReplay();
    try {
      await asWriter.accounts.createAccount({ accountId: "replica-1", currency: "USD", displayName: "replica-1" });
      assert.deepEqual(await names(asWriter), ["replica-1"], "the writer reads its write (primary)");
      assert.deepEqual(await names(asReader), [], "another client reads the replica, which has not replayed it");
      // Verification runs on the replica too (a REPEATABLE READ, READ ONLY snapshot works on a standby).
      const admin = createClient(AdminService, transportFactories["connect-json-http1"]!(service.url, reader.key));
      assert.deepEqual((await admin.verifyLedger({})).violations, []);
      // Operators see the replica's state on /metrics.
      const scrape = await (await fetch(service.metricsUrl)).text();
      assert.match(scrape, /^db_replica_staleness(_seconds)?(\{[^}]*\})? [0-9.e-]+$/m);
      assert.match(scrape, /^db_replica_usable(\{[^}]*\})? 1$/m);
    } finally {
      resumeReplay();
    }
    await until("the reader sees it once replayed", async () => (await names(asReader)).includes("replica-1"));

    pair.stopStandby();
    // Without its synchronous standby the primary would wait for ever at each commit (a failover
    // manager drops the requirement then, as pg_auto_failover's wait_primary does).
    pair.psql(pair.primaryPort, "alter system set synchronous_standby_names = ''");
    pair.psql(pair.primaryPort, "select pg_reload_conf()");
    await asWriter.accounts.createAccount({ accountId: "replica-2", currency: "USD", displayName: "replica-2" });
    await until("reads fall back to the primary with the replica down", async () => (await names(asReader).catch((): string[] => [])).includes("replica-2"), {
      timeoutMs: 10_000,
    });
  } finally {
    await service.stop();
  }
});
