/**
 * Relay benchmark (run through scripts/bench-relay.sh, which provides PostgreSQL and Kafka).
 *
 * 1. Drain: `--backlog` payments are committed while no relay runs; then one relay process
 *    (`npm run relay`, default settings) drains them. Throughput = events / (last - first
 *    published_at).
 * 2. Steady: payments at `--rate` per second for `--seconds` with the relay running. Latency per
 *    payment: end to end (commit returned to the writer -> read by a consumer), and relay side
 *    (outbox created_at -> published_at on the database clock, i.e. delivery report; created_at is
 *    the writer transaction's start, so this includes the writer's own transaction time).
 *
 * The relay process's CPU over the steady phase is printed per event. RELAY_CPU_PROF=<dir> runs the
 * relay under `node --cpu-prof`, writing its profile there on exit.
 *
 * Everything shares one machine, so the figures are for comparison between runs and as ratios,
 * not absolute capacity.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { parseArgs } from "node:util";
import { and, eq, gt, sql } from "drizzle-orm";
import { startEventConsumer } from "../src/consumer/event-consumer.js";
import { outbox } from "../src/db/schema.js";
import { createKafka, parseBrokers } from "../src/kafka/kafka-client.js";
import { ensureTopics } from "../src/kafka/topics.js";
import { Ledger } from "../src/ledger/ledger.js";
import { createLogger } from "../src/telemetry/logger.js";
import { createTestDatabase } from "../test/support/database.js";
import { processCpuMs } from "./bench/cpu-meter.js";
import { openFundedPairs } from "./bench/seed.js";

const { values } = parseArgs({
  options: {
    backlog: { type: "string", default: "5000" },
    rate: { type: "string", default: "200" },
    seconds: { type: "string", default: "20" },
  },
});
const backlog = Number(values.backlog);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const brokers = process.env.KAFKA_BROKERS!;
const prefix = `bench${Date.now().toString(36)}`;
const logger = createLogger("warn");
const ctx = { clientId: "bench" };

const database = await createTestDatabase(32);
const db = database.handle.db;
const ledger = new Ledger(db, { idempotencyTtlHours: 1 });
let keySeq = 0;
const { payers, payees } = await openFundedPairs(ledger, 16, "bench");

/** Authorizes one payment; returns its id, when the call started and when its commit returned (ms). */
async function pay(): Promise<{ paymentId: string; startedAt: number; committedAt: number }> {
  const n = ++keySeq;
  const startedAt = Date.now();
  const payment = await ledger.authorizePayment(
    { idempotencyKey: `bench-${n}`, payerAccountId: payers[n % 16]!, payeeAccountId: payees[n % 16]!, amountCents: 1n, currency: "EUR", description: "" },
    ctx,
  );
  return { paymentId: payment.paymentId, startedAt, committedAt: Date.now() };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const summary = (label: string, ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  const f = (p: number) => `${percentile(sorted, p).toFixed(1)} ms`;
  console.log(`  ${label.padEnd(46)} p50 ${f(50)}   p90 ${f(90)}   p99 ${f(99)}   max ${f(100)}`);
};

// Phase 1: a backlog written with no relay running.
console.log(`bench: committing ${backlog} payments with no relay running`);
let next = 0;
await Promise.all(Array.from({ length: 16 }, async () => {
  while (next++ < backlog) await pay();
}));

const kafka = createKafka({ brokers: parseBrokers(brokers), clientId: "bench" }, logger);
await ensureTopics(kafka, { prefix, partitions: 3, replicationFactor: 1 }, 10_000);
const readAt = new Map<string, number>();
const consumer = await startEventConsumer({
  kafka,
  topicPrefix: prefix,
  groupId: `${prefix}-consumer`,
  fromBeginning: true,
  logger,
  onEvent: (event) => void (event.eventType === "PaymentAuthorized" && !event.duplicate && readAt.set(event.key, Date.now())),
});

const relay = spawn(process.execPath, [...(process.env.RELAY_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.RELAY_CPU_PROF}`] : []), "--import", "tsx", "src/relay/relay-cli.ts"], {
  env: { ...process.env, DATABASE_URL: database.url, KAFKA_TOPIC_PREFIX: prefix, LOG_LEVEL: "warn" },
  stdio: ["ignore", "inherit", "inherit"],
});
const pendingCount = async () =>
  (await db.select({ n: sql<number>`count(*)::int` }).from(outbox).where(sql`${outbox.publishedAt} is null`))[0]!.n;
while ((await pendingCount()) > 0) await new Promise((resolve) => setTimeout(resolve, 200));
const [drain] = await db
  .select({ events: sql<number>`count(*)::int`, seconds: sql<number>`extract(epoch from max(${outbox.publishedAt}) - min(${outbox.publishedAt}))::float8` })
  .from(outbox);

// Phase 2: a steady rate with the relay running.
console.log(`bench: ${rate} payments/s for ${seconds} s with the relay running`);
const [{ lastBefore }] = (await db.select({ lastBefore: sql<string>`max(${outbox.id})::text` }).from(outbox)) as [{ lastBefore: string }];
const committed: { paymentId: string; startedAt: number; committedAt: number }[] = [];
const relayCpuBefore = processCpuMs(relay.pid!);
const t0 = Date.now();
const inFlight: Promise<void>[] = [];
for (let i = 0; i < rate * seconds; i++) {
  const due = t0 + (i * 1000) / rate;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  inFlight.push(pay().then((done) => void committed.push(done)));
}
await Promise.all(inFlight);
const offeredFor = (Date.now() - t0) / 1000;
const deadline = Date.now() + 60_000;
while (committed.some((c) => !readAt.has(c.paymentId)) && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 100));
}
// The relay's own CPU for the steady phase (it is idle before and after): its cost per event.
const relayCpuMs = processCpuMs(relay.pid!) - relayCpuBefore;
const relayMs = (
  await db
    .select({ ms: sql<number>`extract(epoch from ${outbox.publishedAt} - ${outbox.createdAt})::float8 * 1000` })
    .from(outbox)
    .where(and(eq(outbox.eventType, "PaymentAuthorized"), gt(outbox.id, BigInt(lastBefore))))
).map((row) => row.ms);
// Each relay batch is one transaction: the rows it marked published carry its transaction id.
const [{ batches }] = (await db.execute(sql`select count(distinct xmin::text)::int as batches from outbox where id > ${BigInt(lastBefore)} and published_at is not null`)) as unknown as [{ batches: number }];
const endToEnd = committed.filter((c) => readAt.has(c.paymentId)).map((c) => readAt.get(c.paymentId)! - c.committedAt);

relay.kill("SIGTERM");
await once(relay, "exit");
await consumer.disconnect();
await database.drop();

const drainRate = drain!.events / drain!.seconds;
console.log("\nrelay benchmark (one machine: PostgreSQL, Kafka, the relay process and this load generator share its cores)");
console.log(`  drain: ${drain!.events} events in ${drain!.seconds.toFixed(2)} s = ${drainRate.toFixed(0)} events/s (one relay, default settings)`);
console.log(
  `  steady: ${committed.length} payments in ${offeredFor.toFixed(1)} s = ${(committed.length / offeredFor).toFixed(0)}/s offered; ` +
    `${endToEnd.length} read by the consumer (${((100 * endToEnd.length) / committed.length).toFixed(1)}%)`,
);
console.log(`  drain throughput / achieved steady rate: ${(drainRate / (committed.length / offeredFor)).toFixed(1)}x`);
console.log(`  relay process CPU in the steady phase: ${relayCpuMs.toFixed(0)} ms = ${(relayCpuMs / committed.length).toFixed(3)} ms per event`);
console.log(`  relay batches in the steady phase: ${batches} (${(committed.length / batches).toFixed(1)} events per batch)`);
summary("payment call -> commit returned (the writer)", committed.map((c) => c.committedAt - c.startedAt));
summary("outbox row created -> delivery report (relay)", relayMs);
summary("commit -> read by a consumer (end to end)", endToEnd);
process.exit(0);
