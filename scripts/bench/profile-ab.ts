/**
 * `tsx scripts/bench/profile-ab.ts <root-a> <root-b>`: the service CPU per single Connect payment
 * of two checkouts, measured side by side so that a change to the request path is judged by a
 * ratio taken under the same machine noise. Both services (each `npm start`'s node arguments with
 * cwd = its root) run at once against one durable PostgreSQL, each driven by its own k6 with the
 * benchmark's closed loops (BENCH_CLIENTS), or at PROFILE_RATE payments/s each (an open model), and
 * its own API key (idempotency keys are scoped by client: the two k6 runs mint alike ones). After
 * PROFILE_WARMUP seconds of that load, PROFILE_ROUNDS windows of
 * BENCH_DURATION seconds each read both processes' CPU time from /proc (cpu-meter.ts). The relay is
 * off (no KAFKA_BROKERS), as in `npm run bench` where it is a process of its own; the rate limit is
 * on but out of reach, as there; REDIS_URL is passed on.
 */
import { resolve } from "node:path";
import { processCpuMs } from "./cpu-meter.js";
import { runServiceWorkload } from "./k6-workload.js";
import { makeDurable, startBackingService } from "./backing-services.js";
import { seedAccounts } from "./seed.js";
import { startService, type ServiceProcess } from "./service-process.js";
import { benchConfigFromEnv, workloadsOf } from "./workload.js";
import { testKey } from "../../test/support/api-keys.js";

const log = (message: string) => console.error(`profile-ab: ${message}`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const roots = process.argv.slice(2, 4).map((root) => resolve(root));
  if (roots.length !== 2) throw new Error("usage: profile-ab.ts <root-a> <root-b>");
  const config = benchConfigFromEnv();
  const rounds = Number(process.env.PROFILE_ROUNDS ?? 5);
  const warmup = Number(process.env.PROFILE_WARMUP ?? 5);
  const rate = Number(process.env.PROFILE_RATE ?? 0);
  const uniform = workloadsOf(config, "bench-")[0]!;
  const postgres = startBackingService("postgres");
  const keys = [testKey("k6a"), testKey("k6b")];
  const env: Record<string, string> = {
    DB_POOL_SIZE: String(config.poolSize),
    RATE_LIMIT_POINTS: "1000000000",
    API_KEYS: keys.map((key) => key.entry).join(","),
  };
  if (process.env.REDIS_URL) env.REDIS_URL = process.env.REDIS_URL;
  const here = process.cwd();
  // spawnService runs `scripts/start.mjs` of the current directory: start each side from its root.
  const start = async (root: string): Promise<ServiceProcess> => {
    process.chdir(root);
    try {
      return await startService(postgres.value, env, keys[0]);
    } finally {
      process.chdir(here);
    }
  };
  const apps: ServiceProcess[] = [];
  const cpu: number[][] = [[], []];
  try {
    await makeDurable(postgres);
    for (const root of roots) apps.push(await start(root));
    await seedAccounts({ baseUrl: apps[0]!.baseUrl, apiKey: apps[0]!.apiKey, prefix: "bench-", accounts: config.accounts, currency: config.currency, fundingCents: config.fundingCents });
    const load = (seconds: number) =>
      Promise.all(apps.map((app, i) => runServiceWorkload({ baseUrl: app.baseUrl, apiKey: keys[i]!.key }, { ...uniform, durationSeconds: seconds }, "connect", rate)));
    await load(warmup);
    for (let round = 0; round < rounds; round++) {
      const before = apps.map((app) => processCpuMs(app.pid));
      const measured = await load(uniform.durationSeconds);
      const perPayment = apps.map((app, i) => (processCpuMs(app.pid) - before[i]!) / Math.max(1, measured[i]!.transactions));
      perPayment.forEach((value, i) => cpu[i]!.push(value));
      log(
        `round ${round + 1}: ` +
          measured.map((m, i) => `${"AB"[i]} ${m.tps.toFixed(0)}/s ${perPayment[i]!.toFixed(3)} ms CPU/payment (failed ${m.failed})`).join(", "),
      );
    }
  } finally {
    for (const app of apps) await app.stop();
    postgres.stop();
  }
  const ratios = cpu[0]!.map((a, i) => a / cpu[1]![i]!);
  console.log(`A ${roots[0]}: ${cpu[0]!.map((v) => v.toFixed(3)).join(" ")} ms/payment (median ${median(cpu[0]!).toFixed(3)})`);
  console.log(`B ${roots[1]}: ${cpu[1]!.map((v) => v.toFixed(3)).join(" ")} ms/payment (median ${median(cpu[1]!).toFixed(3)})`);
  console.log(`A/B per round: ${ratios.map((r) => r.toFixed(3)).join(" ")} (median ${median(ratios).toFixed(3)})`);
}

await main();
