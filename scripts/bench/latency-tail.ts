/**
 * `tsx scripts/bench/latency-tail.ts`: where the single-payment latency tail at a fixed rate comes
 * from (the p99 at half load of `npm run bench`, issue 17). One durable PostgreSQL and one service
 * (relay off, as the benchmark's rows measure the service), seeded, warmed for BENCH_WARMUP seconds
 * of closed loops, then single Connect payments offered at TAIL_RATE per second (default 386, the
 * last quiet run's half load) for BENCH_DURATION seconds. It lays four clocks side by side:
 *
 * - the client's percentiles (k6);
 * - the service's own duration histogram (`rpc.server.call.duration` from /metrics): what part of
 *   the tail is inside the process;
 * - the event loop's delay and the GC pauses per 3 s window (loop-delay-hook.mjs);
 * - every `ledger_apply` PostgreSQL executed for TAIL_PG_MS or longer, and every lock wait over
 *   3 ms (the server's log: log_min_duration_statement, log_lock_waits), against all the calls;
 *
 * and the CPU of each party over the window, as a share of the machine's cores.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, chmodSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { cpuPerTransaction, sampleCpu } from "./cpu-meter.js";
import { runServiceWorkload } from "./k6-workload.js";
import { makeDurable, postmasterPid, startBackingService } from "./backing-services.js";
import { percentile } from "./percentiles.js";
import { seedAccounts } from "./seed.js";
import { startService } from "./service-process.js";
import { freePort } from "../../test/support/process.js";
import { benchConfigFromEnv, workloadsOf } from "./workload.js";

const rate = Number(process.env.TAIL_RATE ?? 386);
const slowMs = Number(process.env.TAIL_PG_MS ?? 4);
const config = benchConfigFromEnv();
const uniform = workloadsOf(config, "bench-")[0]!;

/** The cumulative bucket counts of AuthorizePayment's duration, by upper bound in seconds. */
async function durationBuckets(metricsPort: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const buckets = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("rpc_server_call_duration") || !line.includes("_bucket") || !line.includes('AuthorizePayment"')) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le) buckets.set(le, (buckets.get(le) ?? 0) + Number(line.split(" ").at(-1)));
  }
  return buckets;
}

const logDir = mkdtempSync(join(tmpdir(), "ledger-tail-log-"));
chmodSync(logDir, 0o777); // the server runs as the postgres user
process.env.BENCH_PG_SETTINGS = [
  process.env.BENCH_PG_SETTINGS,
  `logging_collector=on,log_directory=${logDir},log_min_duration_statement=${slowMs},log_lock_waits=on,deadlock_timeout=3ms`,
].filter(Boolean).join(",");
const postgres = startBackingService("postgres");
try {
  await makeDurable(postgres);
  const metricsPort = await freePort();
  const app = await startService(postgres.value, {
    DB_POOL_SIZE: String(config.poolSize),
    RATE_LIMIT_POINTS: "1000000000",
    METRICS_PORT: String(metricsPort),
    NODE_OPTIONS: `--import ${join(import.meta.dirname, "loop-delay-hook.mjs")}`,
  });
  try {
    await seedAccounts({ baseUrl: app.baseUrl, apiKey: app.apiKey, prefix: "bench-", accounts: config.accounts, currency: config.currency, fundingCents: config.fundingCents });
    await runServiceWorkload(app, { ...uniform, durationSeconds: Number(process.env.BENCH_WARMUP ?? 20) }, "connect");
    const logFile = join(logDir, readdirSync(logDir)[0]!);
    const logFrom = readFileSync(logFile, "utf8").length;
    const outputFrom = app.output().length;
    const bucketsBefore = await durationBuckets(metricsPort);
    const cpuBefore = sampleCpu(app.pid, postmasterPid(postgres));
    const started = Date.now();
    const m = await runServiceWorkload(app, uniform, "connect", rate);
    const seconds = (Date.now() - started) / 1000;
    const cpu = cpuPerTransaction(cpuBefore, sampleCpu(app.pid, postmasterPid(postgres)), m.transactions);
    const bucketsAfter = await durationBuckets(metricsPort);
    const log = readFileSync(logFile, "utf8").slice(logFrom);

    const cores = (msPerTx: number) => ((msPerTx * m.transactions) / (seconds * 1000) / availableParallelism()) * 100;
    console.log(`offered ${rate}/s: ${m.tps.toFixed(0)} payments/s, client p50 ${m.p50Ms.toFixed(1)} p95 ${m.p95Ms.toFixed(1)} p99 ${m.p99Ms.toFixed(1)} ms`);
    console.log(`CPU, % of ${availableParallelism()} cores: k6 ${cores(cpu.loadGenerator).toFixed(0)}, service ${cores(cpu.service).toFixed(0)}, PostgreSQL ${cores(cpu.postgres).toFixed(0)}`);
    const total = (bucketsAfter.get("+Inf") ?? 0) - (bucketsBefore.get("+Inf") ?? 0);
    const over = [...bucketsAfter].filter(([le]) => le !== "+Inf").map(([le, n]) => `${Number(le) * 1000} ms ${((100 * (total - (n - (bucketsBefore.get(le) ?? 0)))) / Math.max(1, total)).toFixed(2)}%`);
    console.log(`inside the service (${total} calls), share over: ${over.slice(2, 6).join(", ")}`);
    const windows = app.output().slice(outputFrom).split("\n").filter((l) => l.startsWith("loop-delay ")).map((l) => JSON.parse(l.slice(11)) as Record<string, number>);
    const most = (key: string) => Math.max(...windows.map((w) => w[key]!));
    console.log(`event loop over ${windows.length} windows of 3 s: delay max ${windows.map((w) => w.loopDelayMaxMs).join(", ")} ms; GC: major pauses up to ${most("gcMajorMaxMs")} ms, minor up to ${most("gcMinorMaxMs")} ms`);
    const slow = [...log.matchAll(/duration: ([\d.]+) ms {2}execute [^:]+: select ledger_apply/g)].map((x) => Number(x[1])).sort((a, b) => a - b);
    const waits = [...log.matchAll(/still waiting for (.+?) after/g)].map((x) => x[1]);
    console.log(`ledger_apply calls PostgreSQL ran for ${slowMs} ms or longer: ${slow.length}` + (slow.length ? ` (p50 ${percentile(slow, 50).toFixed(1)}, max ${slow.at(-1)!.toFixed(1)} ms)` : ""));
    console.log(`lock waits over 3 ms: ${waits.length}${waits.length ? `: ${[...new Set(waits)].join("; ")}` : ""}`);
  } finally {
    await app.stop();
  }
} finally {
  postgres.stop();
  rmSync(logDir, { recursive: true, force: true });
}
