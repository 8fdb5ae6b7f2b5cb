/**
 * A/B of relay builds or settings: `npx tsx scripts/bench/relay-ab.ts --rate 400 --seconds 10
 * --rounds 3 --variant 'a=node --import tsx src/relay/relay-cli.ts' --variant 'b=RELAY_LINGER_MS=0 node
 * --import tsx src/relay/relay-cli.ts'`. One throwaway durable PostgreSQL (track_commit_timestamp on)
 * and Kafka for the whole run; each round starts every variant in turn as a process of its own,
 * offers single payments at `--rate` for `--seconds` (through the Ledger in this process, which
 * notifies like the service), waits until all are published, and reads the relay's CPU from /proc
 * (per thread name too: the JS thread, librdkafka's, V8's), so variants are compared alternately in
 * the same minutes on a shared machine. Prints CPU ms per event and commit-to-delivery p99 per run,
 * then the medians per variant.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { makeDurable, startBackingService } from "./backing-services.js";
import { openFundedPairs } from "./seed.js";
import { repoRoot } from "./tools.js";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "400" },
    seconds: { type: "string", default: "10" },
    idle: { type: "string", default: "0" },
    rounds: { type: "string", default: "3" },
    variant: { type: "string", multiple: true, default: [] },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const idleSeconds = Number(values.idle);
const variants = values.variant!.map((spec) => {
  const at = spec.indexOf("=");
  const words = spec.slice(at + 1).trim().split(/\s+/);
  const env: Record<string, string> = {};
  while (/^[A-Z_]+=/.test(words[0]!)) {
    const [name, value] = words.shift()!.split("=");
    env[name!] = value!;
  }
  return { name: spec.slice(0, at), env, command: words };
});
if (variants.length === 0) throw new Error("give at least one --variant name=command");

const pg = startBackingService("postgres");
const kafka = startBackingService("kafka");
const stops = [() => kafka.stop(), () => pg.stop()];
process.once("SIGINT", () => {
  for (const stop of stops) stop();
  process.exit(130);
});

/** Ticks (1/100 s) per thread name of `pid`: names are librdkafka's rdk:*, V8's, node's. */
function threadTicks(pid: number): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/[0-9]+$/, "#").replace(/\/#$/, "");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
      ticks.set(name, (ticks.get(name) ?? 0) + fields[11]! + fields[12]!);
      ticks.set(`${name} sys`, (ticks.get(`${name} sys`) ?? 0) + fields[12]!);
    } catch {
      // the thread ended between listing and reading
    }
  }
  return ticks;
}
const total = (ticks: Map<string, number>) => [...ticks].filter(([name]) => !name.endsWith(" sys")).reduce((a, [, t]) => a + t, 0);

try {
  await makeDurable(pg);
  process.env.DATABASE_URL = pg.value;
  const { createTestDatabase } = await import("../../test/support/database.js");
  const { Ledger } = await import("../../src/ledger/ledger.js");
  const database = await createTestDatabase(32);
  stops.unshift(() => void database.drop());
  const ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 1 });
  const sql = postgres(database.url, { max: 2, onnotice: () => {} });
  const ctx = { clientId: "bench" };
  const { payers, payees } = await openFundedPairs(ledger, 64, "ab");
  let keySeq = 0;
  // Every payment carries a traceparent, as the service's requests do (rpc-observer.ts).
  const pay = () => {
    const n = ++keySeq;
    const traceparent = `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`;
    return ledger.authorizePayment(
      { idempotencyKey: `ab-${n}`, payerAccountId: payers[n % 64]!, payeeAccountId: payees[n % 64]!, amountCents: 1n, currency: "EUR", description: "" },
      { ...ctx, traceparent },
    );
  };
  const pending = async () => (await sql`select count(*)::int as n from outbox where published_at is null and dead_at is null`)[0]!.n as number;
  const drained = async (limitMs: number) => {
    const deadline = Date.now() + limitMs;
    while ((await pending()) > 0) {
      if (Date.now() > deadline) throw new Error("relay did not drain");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const results = new Map<string, { cpu: number; idle: number; p99: number; batches: number; threads: Map<string, number> }[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const variant of variants) {
      const relay: ChildProcess = spawn(variant.command[0]!, variant.command.slice(1), {
        cwd: repoRoot,
        env: { ...process.env, DATABASE_URL: database.url, KAFKA_BROKERS: kafka.value, KAFKA_TOPIC_PREFIX: "ab", LOG_LEVEL: "warn", ...variant.env },
        stdio: ["ignore", "inherit", "inherit"],
      });
      // Started and warm: the backlog of the setup (or of a warm-up second) delivered.
      await Promise.all(Array.from({ length: rate }, pay));
      await drained(60_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      // Idle: what the relay costs per second with nothing to publish (polls, probes, librdkafka).
      const idleBefore = threadTicks(relay.pid!);
      await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
      const idleAfter = threadTicks(relay.pid!);
      const idle = ((total(idleAfter) - total(idleBefore)) * 10) / idleSeconds;
      const idleTop = [...idleAfter].map(([n, t]) => [n, ((t - (idleBefore.get(n) ?? 0)) * 10) / idleSeconds] as const).filter(([, v]) => v > 0).map(([n, v]) => `${n} ${v.toFixed(0)}`).join(", ");
      const [{ from }] = (await sql`select coalesce(max(id), 0)::text as from from outbox`) as unknown as [{ from: string }];
      const before = threadTicks(relay.pid!);
      const t0 = Date.now();
      const inFlight: Promise<unknown>[] = [];
      for (let i = 0; i < rate * seconds; i++) {
        const wait = t0 + (i * 1000) / rate - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        inFlight.push(pay());
      }
      await Promise.all(inFlight);
      await drained(60_000);
      const after = threadTicks(relay.pid!);
      const [row] = await sql`
        select count(*)::int as events, count(distinct xmin::text)::int as batches,
               percentile_cont(0.99) within group (order by extract(epoch from published_at - committed_at) * 1000) as p99
          from outbox where id > ${from}::bigint and published_at is not null`;
      relay.kill("SIGTERM");
      await once(relay, "exit");
      const events = row!.events as number;
      const threads = new Map([...after].map(([name, t]) => [name, ((t - (before.get(name) ?? 0)) * 10) / events]));
      const cpu = ((total(after) - total(before)) * 10) / events;
      const run = { cpu, idle, p99: Number(row!.p99), batches: events / (row!.batches as number), threads };
      results.set(variant.name, [...(results.get(variant.name) ?? []), run]);
      const top = [...threads].filter(([, ms]) => ms > 0.002).sort((a, b) => b[1] - a[1]).map(([n, ms]) => `${n} ${ms.toFixed(3)}`).join(", ");
      console.log(`round ${round} ${variant.name.padEnd(10)} ${events} events  cpu ${cpu.toFixed(3)} ms/event  deliv p99 ${run.p99.toFixed(1)} ms  ${run.batches.toFixed(1)} events/batch  [${top}]${idleSeconds ? `  idle ${idle.toFixed(1)} ms/s [${idleTop}]` : ""}`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`\nmedians at ${rate}/s over ${rounds} rounds (load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")})`);
  for (const [name, runs] of results) {
    console.log(`  ${name.padEnd(10)} cpu ${median(runs.map((r) => r.cpu)).toFixed(3)} ms/event  deliv p99 ${median(runs.map((r) => r.p99)).toFixed(1)} ms  ${median(runs.map((r) => r.batches)).toFixed(1)} events/batch`);
  }
  await sql.end();
} finally {
  for (const stop of stops) await stop();
}
process.exit(0);
