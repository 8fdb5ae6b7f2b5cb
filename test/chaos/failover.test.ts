/**
 * Failover: the service as a real process on the high-availability topology (a primary and a
 * synchronous standby under pg_auto_failover, scripts/services/ha/postgres-ha.sh, durable), 32
 * clients paying, and the primary's whole node (keeper, postmaster, backends) killed with SIGKILL.
 * The standby is promoted by pg_auto_failover alone; the service follows it without a restart.
 *
 * Asserted: 0 acknowledged payments missing (synchronous replication: what the old primary
 * acknowledged is on the new one), balances equal to the sum of entries, every outbox event on
 * Kafka, no `internal` (nor any final error but `unavailable`), the process never exits, the first
 * payment committed on the new primary within 15 s of the kill (measured and printed), readiness
 * false and then true, watch streams notified through the new primary's LISTEN, and the old
 * primary rejoining as a synchronous standby.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import postgres from "postgres";
import { openDatabase } from "../../src/db/client.js";
import { capturingLogger, harnessBrokers, kafkaFor, recordEvents, uniquePrefix } from "../relay/fixtures.js";
import { jsonClients } from "../support/clients.js";
import { assertLedgerInvariants } from "../support/invariants.js";
import { startPostgresHa, type PostgresHa } from "../support/postgres-ha.js";
import { freePort, spawnService, type ServiceProcess } from "../support/process.js";
import { until } from "../support/until.js";
import { openAccounts, startBankWorkload } from "./bank-workload.js";

/** The bound: the first payment committed on the new primary within this of the kill. */
const FAILOVER_BOUND_MS = 15_000;

let ha: PostgresHa;
let service: ServiceProcess | undefined;
before(async () => {
  ha = await startPostgresHa();
});
after(async () => {
  await service?.stop();
  await ha?.remove();
});

/** Polls GET /readyz every 100 ms, recording each change of its status with the time. */
function watchReadiness(url: string) {
  const changes: { at: number; ready: boolean }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status === 200, () => false);
      if (changes.at(-1)?.ready !== ready) changes.push({ at: performance.now(), ready });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    changes,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

it("kill -9 of the primary's node under 32 paying clients: automatic promotion, nothing acknowledged lost, no internal errors", { timeout: 240_000 }, async () => {
  const prefix = uniquePrefix();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  service = spawnService({
    AUTH_DISABLED: "true",
    PORT: String(port),
    DATABASE_URL: ha.url,
    RATE_LIMIT_POINTS: "1000000",
    KAFKA_BROKERS: harnessBrokers(),
    KAFKA_TOPIC_PREFIX: prefix,
    SHUTDOWN_TIMEOUT_MS: "5000",
  });
  await service.waitFor(/"msg":"listening/, 60_000);
  const readiness = watchReadiness(url);
  const accountIds = await openAccounts(url, 10);
  // Two accounts outside the workload, for the watch stream.
  const [watched, payer] = await openAccounts(url, 2);
  const workload = startBankWorkload([url], accountIds, 32);
  const measured: Record<string, number | string> = {};
  try {
    await until("payments flowing", () => workload.ackTimes.length > 200, { timeoutMs: 60_000 });
    const before = await ha.state();
    const oldPrimary = before.find((node) => node.reported === "primary")!;
    assert.ok(oldPrimary, `a primary before the kill: ${JSON.stringify(before)}`);

    // killedAt: when the kill was asked for (the time reported below counts from here); gone: when
    // the script returned, the node's processes all dead. A request sent after `gone` cannot have
    // committed on the old primary; one sent in between may have (the script first asks the monitor
    // which node is the primary).
    const killedAt = performance.now();
    const killed = await ha.killPrimary();
    const gone = performance.now();
    assert.equal(killed, oldPrimary.name);
    measured.killed = killed;
    measured.killScriptMs = Math.round(gone - killedAt);

    // The first acknowledgement of an attempt sent after the kill: committed on the new primary.
    const committedAfterKill = () => workload.ackSentTimes.findIndex((sent) => sent > gone);
    await until("a payment committed on the new primary", () => committedAfterKill() >= 0, { timeoutMs: 60_000 });
    measured.firstPaymentAfterKillMs = Math.round(workload.ackTimes[committedAfterKill()]! - killedAt);
    const promotedState = await ha.state();
    const newPrimary = promotedState.find((node) => node.name !== killed)!;
    assert.match(newPrimary.reported, /^(wait_primary|primary)$/, JSON.stringify(promotedState));
    await until("readiness true again", () => readiness.changes.at(-1)?.ready === true && readiness.changes.at(-1)!.at > killedAt);

    // Watch streams after the failover: a new entry reaches the watcher through the new primary's
    // NOTIFY (LISTEN re-established there), well before the watcher's 5 s poll would find it.
    const clients = jsonClients(url);
    const abort = new AbortController();
    const stream = clients.accounts.watchAccount({ accountId: watched! }, { signal: abort.signal });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next(); // the balances now
    const paidAt = performance.now();
    await clients.payments.authorizePayment({ idempotencyKey: "watch-after-failover", payerAccountId: payer!, payeeAccountId: watched!, amountCents: 7n, currency: "USD" });
    const next = await iterator.next();
    measured.watchDeliveryMs = Math.round(performance.now() - paidAt);
    abort.abort();
    assert.equal(next.value?.entry?.amountCents, 7n);
    assert.ok(performance.now() - paidAt < 2_500, `watch delivery took ${measured.watchDeliveryMs} ms: LISTEN not re-established?`);

    await until("more payments on the new primary", () => workload.ackSentTimes.filter((t) => t > gone).length > 200, {
      timeoutMs: 60_000,
    });

    // Readiness: false after the kill, true again since.
    const afterKill = readiness.changes.filter((change) => change.at > killedAt);
    const down = afterKill.find((change) => !change.ready);
    assert.ok(down, `readiness never reported false after the kill: ${JSON.stringify(readiness.changes)}`);
    const up = afterKill.find((change) => change.ready && change.at > down.at);
    assert.ok(up, "readiness true again");
    measured.readinessFalseAfterMs = Math.round(down.at - killedAt);
    measured.readinessTrueAfterMs = Math.round(up.at - killedAt);

    // The old primary rejoins as a standby (pg_rewind by its keeper) and replication is synchronous again.
    const rejoinFrom = performance.now();
    await ha.restart(killed);
    await until(
      "the old primary back as a secondary",
      async () => (await ha.state()).some((node) => node.name === killed && node.reported === "secondary" && node.goal === "secondary"),
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    measured.rejoinMs = Math.round(performance.now() - rejoinFrom);
  } finally {
    await workload.stop();
    await readiness.stop();
  }

  assert.ok(
    (measured.firstPaymentAfterKillMs as number) <= FAILOVER_BOUND_MS,
    `first payment ${measured.firstPaymentAfterKillMs} ms after the kill (bound ${FAILOVER_BOUND_MS} ms)`,
  );
  // The process never exited, and nothing reached a client as internal or unknown.
  assert.equal(service.child.exitCode, null, service.output().slice(-3_000));
  assert.doesNotMatch(service.output(), /"msg":"unexpected failure"|uncaughtException|unhandledRejection/);
  assert.deepEqual([...workload.errors.keys()].filter((code) => code !== "Unavailable"), [], "no final error but UNAVAILABLE");
  assert.deepEqual(
    [...workload.retriedCodes.keys()].filter((code) => !["Unavailable", "DeadlineExceeded"].includes(code)),
    [],
    `retried codes ${JSON.stringify(Object.fromEntries(workload.retriedCodes))}`,
  );

  const handle = await openDatabase({ url: ha.url, poolSize: 2, pgliteDataDir: "" });
  const sql = postgres(ha.url, { max: 1, onnotice: () => {} });
  try {
    await assertLedgerInvariants(handle.db);
    const ids = [...workload.acknowledged.values()];
    const found = await sql`select id from payments where id = any(${ids})`;
    assert.equal(found.length, ids.length, `acknowledged payments missing: ${ids.length - found.length} of ${ids.length}`);
    assert.equal(workload.conflictingReplays, 0, "a replayed key always answers with its first payment");
    // One effect per key: as many payments as payment keys stored, acknowledged or not.
    const [counts] = await sql`select (select count(*) from idempotency_keys where key like 'pay-%' or key = 'watch-after-failover')::int as keys,
                                      (select count(*) from payments)::int as paid`;
    assert.equal(counts!.paid, counts!.keys, "one payment per idempotency key");
    measured.acknowledged = ids.length;
    measured.retries = workload.retries;
    measured.retriedCodes = JSON.stringify(Object.fromEntries(workload.retriedCodes));

    // Replication is synchronous again with the old primary as the standby.
    const [replication] = await sql`select sync_state from pg_stat_replication`;
    assert.match(String(replication?.sync_state), /^(sync|quorum)$/);

    // Every outbox event is on Kafka once the relay, on the new primary, caught up.
    await until("the relay published the outbox", async () => {
      const [row] = await sql`select count(*)::int as pending from outbox where published_at is null and dead_at is null`;
      return row!.pending === 0;
    }, { timeoutMs: 60_000 });
    const eventIds = (await sql`select event_id from outbox`).map((row) => row.event_id as string);
    const { logger } = capturingLogger();
    const log = await recordEvents(kafkaFor(harnessBrokers(), logger), prefix, logger);
    try {
      await log.waitFor("every outbox event on Kafka", (events) => new Set(events.map((e) => e.eventId)).size >= eventIds.length, 60_000);
      const seen = new Set(log.events.map((e) => e.eventId));
      assert.deepEqual(eventIds.filter((id) => !seen.has(id)), [], "no outbox event missing on Kafka");
      measured.events = eventIds.length;
      measured.duplicates = log.events.filter((e) => e.duplicate).length;
    } finally {
      await log.stop();
    }
    console.log(`failover: ${JSON.stringify(measured)}`);
  } finally {
    await sql.end();
    await handle.close();
  }
});
