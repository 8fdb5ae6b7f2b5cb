/**
 * `npm run bench:profile`: where the service's CPU goes. For each load (single AuthorizePayment
 * over Connect and over gRPC, AuthorizePayments of 1,000 items over Connect) a fresh service process
 * runs under the V8 CPU profiler (what `node --cpu-prof` does; cpu-profile-hook.mjs starts it when the load starts
 * and stops it when the relay has delivered the load's events) with its relay on, k6 drives it for BENCH_DURATION seconds, and the
 * profile is summarized per owner (scripts/bench/profile-summary.ts). docs/profile.md is the
 * committed reading of one run. Settings as for `npm run bench` (workload.ts). PROFILE_RELAY=process
 * runs the relay as a process of its own (as `npm run bench` does), so that the profile is the
 * request path's alone.
 */
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { runServiceWorkload, type Protocol } from "./k6-workload.js";
import { makeDurable, startBackingService } from "./backing-services.js";
import { summarize } from "./profile-summary.js";
import { seedAccounts } from "./seed.js";
import { startService } from "./service-process.js";
import { waitForRelay } from "./relay-latency.js";
import { startRelayProcess } from "./relay-process.js";
import { benchConfigFromEnv, workloadsOf } from "./workload.js";

// --cpu-prof is refused in NODE_OPTIONS: this hook starts the same profiler from inside.
const hook = join(import.meta.dirname, "cpu-profile-hook.mjs");
async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("no profile written");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const log = (message: string) => console.error(`bench:profile: ${message}`);
const loads: { name: string; protocol: Protocol; batchSize: number }[] = [
  { name: "single Connect", protocol: "connect", batchSize: 0 },
  { name: "single gRPC", protocol: "grpc", batchSize: 0 },
  { name: "batch of 1000, Connect", protocol: "connect", batchSize: 1000 },
];

async function main(): Promise<void> {
  const config = benchConfigFromEnv();
  const postgres = startBackingService("postgres");
  const kafka = startBackingService("kafka");
  try {
    await makeDurable(postgres);
    const separateRelay = process.env.PROFILE_RELAY === "process";
    const relay = separateRelay ? startRelayProcess(postgres.value, kafka.value) : undefined;
    const env: Record<string, string> = { DB_POOL_SIZE: String(config.poolSize), RATE_LIMIT_POINTS: "1000000000" };
    if (!separateRelay) env.KAFKA_BROKERS = kafka.value;
    const uniform = workloadsOf(config, "bench-")[0]!;
    let seeded = false;
    // PROFILE_LOADS=single (a substring of the names) profiles only the loads it names.
    for (const load of loads.filter((l) => l.name.includes(process.env.PROFILE_LOADS ?? ""))) {
      const dir = mkdtempSync(join(tmpdir(), "ledger-profile-"));
      const app = await startService(postgres.value, { ...env, NODE_OPTIONS: `--import ${hook}`, CPU_PROFILE_DIR: dir });
      try {
        if (!seeded) {
          await seedAccounts({ baseUrl: app.baseUrl, apiKey: app.apiKey, prefix: "bench-", accounts: config.accounts, currency: config.currency, fundingCents: config.fundingCents });
          seeded = true;
        }
        await waitForRelay(postgres.value);
        log(`${load.name}: ${config.durationSeconds}s`);
        process.kill(app.pid, "SIGUSR2");
        const m = await runServiceWorkload(app, uniform, load.protocol, 0, load.batchSize);
        // The relay's work for this load is part of the service's cost while it runs in-process.
        await waitForRelay(postgres.value);
        process.kill(app.pid, "SIGUSR2");
        await until(() => readdirSync(dir).some((f) => f.endsWith(".cpuprofile")), 30_000);
        const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
        const profiles = files.map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")));
        const profile = profiles.sort((a, b) => b.samples.length - a.samples.length)[0];
        if (!profile) throw new Error(`no profile written in ${dir}`);
        const rows = summarize(profile);
        const busy = rows.filter((r) => r.owner !== "(idle)").reduce((sum, r) => sum + r.selfMs, 0);
        console.log(`\n## ${load.name}: ${m.tps.toFixed(0)} payments/s, ${m.transactions} payments, service busy ${busy.toFixed(0)} ms = ${(busy / Math.max(1, m.transactions)).toFixed(3)} ms/payment, peak RSS ${(app.peakRssBytes() / 2 ** 20).toFixed(0)} MB (profile: ${dir})`);
        console.log("| owner | self ms | self % | inclusive % | self µs/payment |\n|---|---:|---:|---:|---:|");
        for (const r of rows.filter((r) => r.owner !== "(idle)").slice(0, 22)) {
          console.log(`| ${r.owner} | ${r.selfMs.toFixed(0)} | ${((100 * r.selfMs) / busy).toFixed(1)} | ${((100 * r.inclusiveMs) / busy).toFixed(1)} | ${((1000 * r.selfMs) / Math.max(1, m.transactions)).toFixed(1)} |`);
        }
      } finally {
        await app.stop();
      }
    }
    await relay?.stop();
  } finally {
    kafka.stop();
    postgres.stop();
  }
}

await main();
