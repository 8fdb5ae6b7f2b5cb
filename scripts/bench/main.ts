/**
 * `npm run bench`: the service against the raw-SQL baseline, side by side, in one run.
 *   1. throwaway PostgreSQL and Kafka (scripts/services/) and the service on them, its outbox relay on;
 *   2. N funded accounts, created through the service's API;
 *   3. per workload (uniform, hot-account): pgbench with the same SQL as one AuthorizePayment,
 *      then the service under k6 over Connect JSON and gRPC, all at the same concurrency;
 *   4. latency at half of the service's maximum uniform TPS, per protocol;
 *   5. the table on stdout and in results/latest.txt, results JSON and SVG chart in results/.
 * Settings: BENCH_ACCOUNTS, BENCH_CLIENTS, BENCH_DURATION (seconds per run), BENCH_ZIPF_S,
 * BENCH_POOL_SIZE (see workload.ts).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { renderChart } from "./chart.js";
import { cpuPerTransaction, sampleCpu } from "./cpu-meter.js";
import { runServiceWorkload, type Protocol } from "./k6-workload.js";
import { runPgbench } from "./pgbench.js";
import { postmasterPid, startBackingService } from "./backing-services.js";
import { formatReport, type BenchResults, type HalfLoadResult, type WorkloadResult } from "./report.js";
import { seedAccounts } from "./seed.js";
import { startService } from "./service-process.js";
import { relayP99Ms, waitForRelay } from "./relay-latency.js";
import { pgbenchBinary } from "./tools.js";
import { benchConfigFromEnv, workloadsOf, type Measurement } from "./workload.js";

const resultsDir = join(import.meta.dirname, "results");
const protocols: Protocol[] = ["connect", "grpc"];
const log = (message: string) => console.error(`bench: ${message}`);

async function main(): Promise<void> {
  const config = benchConfigFromEnv();
  log(`${config.accounts} accounts, ${config.clients} clients, ${config.durationSeconds}s per run`);
  const postgres = startBackingService("postgres");
  const stops: (() => unknown)[] = [() => postgres.stop()];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
  try {
    const kafka = startBackingService("kafka");
    stops.push(() => kafka.stop());
    // Authentication, rate limiting and the outbox relay stay on (the production path); the rate
    // limit is set out of reach.
    const app = await startService(postgres.value, {
      DB_POOL_SIZE: String(config.poolSize),
      RATE_LIMIT_POINTS: "1000000000",
      KAFKA_BROKERS: kafka.value,
    });
    stops.push(() => app.stop());
    const prefix = "bench-";
    log(`seeding accounts through ${app.baseUrl}`);
    await seedAccounts({ baseUrl: app.baseUrl, apiKey: app.apiKey, prefix, accounts: config.accounts, currency: config.currency, fundingCents: config.fundingCents });

    // Each run starts with the relay caught up, and reports the CPU time every party spent on it.
    const measured = async (run: () => Promise<Measurement>): Promise<Measurement> => {
      await waitForRelay(postgres.value);
      const before = sampleCpu(app.pid, postmasterPid(postgres));
      const measurement = await run();
      const cpuMsPerTx = cpuPerTransaction(before, sampleCpu(app.pid, postmasterPid(postgres)), measurement.transactions);
      return { ...measurement, cpuMsPerTx };
    };
    // A service run, with the relay's commit-to-delivery p99 for the payments it wrote.
    const serviceRun = async (run: () => Promise<Measurement>): Promise<Measurement> => {
      const from = new Date();
      const measurement = await measured(run);
      return { ...measurement, relayP99Ms: await relayP99Ms(postgres.value, from, new Date()) };
    };

    const workloads: WorkloadResult[] = [];
    for (const workload of workloadsOf(config, prefix)) {
      log(`${workload.name}: pgbench`);
      const pgbench = await measured(() => runPgbench(postgres.value, workload));
      const service = {} as Record<Protocol, Measurement>;
      for (const protocol of protocols) {
        log(`${workload.name}: service over ${protocol}`);
        service[protocol] = await serviceRun(() => runServiceWorkload(app, workload, protocol));
      }
      workloads.push({ workload: workload.name, pgbench, service });
    }

    const uniform = workloadsOf(config, prefix)[0]!;
    const halfLoad: HalfLoadResult[] = [];
    for (const protocol of protocols) {
      const rate = Math.max(1, Math.round(workloads[0]!.service[protocol].tps / 2));
      log(`latency at ${rate}/s over ${protocol}`);
      halfLoad.push({ protocol, rate, measurement: await serviceRun(() => runServiceWorkload(app, uniform, protocol, rate)) });
    }

    const results: BenchResults = {
      generatedAt: new Date().toISOString(),
      machine: {
        cpus: availableParallelism(),
        node: process.version,
        postgres: execFileSync(pgbenchBinary(), ["--version"], { encoding: "utf8" }).trim(),
      },
      config: { ...config, fundingCents: config.fundingCents.toString() },
      workloads,
      halfLoad,
      peakRssBytes: app.peakRssBytes(),
      relayCommitToDeliveryP99Ms: Math.max(...halfLoad.map((h) => h.measurement.relayP99Ms ?? Number.NaN)),
    };
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, "latest.json"), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(resultsDir, "latest.svg"), `${renderChart(results)}\n`);
    const report = formatReport(results);
    writeFileSync(join(resultsDir, "latest.txt"), `${report}\n`);
    console.log(report);
    log(`wrote latest.json, latest.txt and latest.svg in ${resultsDir}`);
  } finally {
    await stopAll();
  }
}

await main();
