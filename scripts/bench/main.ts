/**
 * `npm run bench`: the service against the raw-SQL baseline and the database's own ceiling, side
 * by side, in one run, on a durable PostgreSQL (fsync, synchronous_commit, full_page_writes on):
 *   1. throwaway PostgreSQL (made durable) and Kafka (scripts/services/), the service on them and
 *      the outbox relay as a process of its own (relay-process.ts: its CPU per event is a row figure);
 *   2. N funded accounts, created through the service's API;
 *   3. per workload (uniform, hot-account): pgbench with the SQL of one naive AuthorizePayment
 *      transaction (the client concurrency); pgbench calling ledger_apply directly with 1 item per
 *      call (the client concurrency), 64 and 1,000 items (2 clients; 1,000 is the ceiling); the
 *      service under k6 over Connect JSON and gRPC, single requests and AuthorizePayments of 100
 *      and 1,000 items; three instances;
 *   4. latency at half of the service's maximum single-request uniform rate, per protocol;
 *   5. the table on stdout and in results/latest.txt, results JSON (with `headline`) and SVG chart.
 * Settings: BENCH_ACCOUNTS, BENCH_CLIENTS, BENCH_DURATION (seconds per row), BENCH_ZIPF_S,
 * BENCH_POOL_SIZE (see workload.ts), BENCH_BATCH_SIZES (default 100,1000).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { renderChart } from "./chart.js";
import { FLOOR_STACKS, floorCommitMs, startFloor } from "./framework-floor.js";
import { cpuPerTransaction, sampleCpu } from "./cpu-meter.js";
import { runServiceWorkload, type Protocol } from "./k6-workload.js";
import { runBatchFunction, runPgbench } from "./pgbench.js";
import { makeDurable, postmasterPid, startBackingService } from "./backing-services.js";
import { formatReport, headlineOf, type BenchResults, type FloorResult, type HalfLoadResult, type Row } from "./report.js";
import { seedAccounts } from "./seed.js";
import { startService, type ServiceProcess } from "./service-process.js";
import { deliveryP99Ms, outboxBacklog, relayP99Ms, waitForRelay } from "./relay-latency.js";
import { startRelayProcess } from "./relay-process.js";
import { pgbenchBinary } from "./tools.js";
import { benchConfigFromEnv, workloadsOf, type Measurement } from "./workload.js";

const resultsDir = join(import.meta.dirname, "results");
const protocols: Protocol[] = ["connect", "grpc"];
const log = (message: string) => console.error(`bench: ${message}`);

async function main(): Promise<void> {
  const config = benchConfigFromEnv();
  const batchSizes = (process.env.BENCH_BATCH_SIZES ?? "100,1000").split(",").map(Number);
  log(`${config.accounts} accounts, ${config.clients} clients, ${config.durationSeconds}s per row`);
  const postgres = startBackingService("postgres");
  const stops: (() => unknown)[] = [() => postgres.stop()];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
  try {
    const postgresSettings = await makeDurable(postgres);
    log(`PostgreSQL: ${JSON.stringify(postgresSettings)}`);
    const kafka = startBackingService("kafka");
    stops.push(() => kafka.stop());
    // Authentication and rate limiting stay on (the production path); the rate limit is set out of
    // reach. The relay runs beside the service, as `npm run relay` would in a deployment.
    const serviceEnv = { DB_POOL_SIZE: String(config.poolSize), RATE_LIMIT_POINTS: "1000000000" };
    const app = await startService(postgres.value, serviceEnv);
    stops.push(() => app.stop());
    const relay = startRelayProcess(postgres.value, kafka.value);
    stops.push(() => relay.stop());
    const prefix = "bench-";
    log(`seeding accounts through ${app.baseUrl}`);
    await seedAccounts({ baseUrl: app.baseUrl, apiKey: app.apiKey, prefix, accounts: config.accounts, currency: config.currency, fundingCents: config.fundingCents });

    // Each run starts with the relay caught up, and reports the CPU time every party spent on it
    // (the service's: the sum over its instances).
    const measured = async (run: () => Promise<Measurement>, services: Pick<ServiceProcess, "pid">[] = [app]): Promise<Measurement> => {
      await waitForRelay(postgres.value);
      const sample = () => {
        const samples = services.map((s) => sampleCpu(s.pid, postmasterPid(postgres), relay.pid));
        return { ...samples[0]!, service: samples.reduce((sum, s) => sum + s.service, 0) };
      };
      const before = sample();
      const measurement = await run();
      const cpuMsPerTx = cpuPerTransaction(before, sample(), measurement.transactions);
      return { ...measurement, cpuMsPerTx };
    };
    // A service row, with the backlog the relay had at its end and its commit-to-delivery p99.
    const serviceRow = async (workload: Row["workload"], side: Row["side"], run: () => Promise<Measurement>, services?: ServiceProcess[]): Promise<Row> => {
      log(`${workload}: ${side}`);
      const from = new Date();
      const measurement = await measured(run, services);
      const backlogAtEnd = await outboxBacklog(postgres.value);
      const to = new Date();
      const latency = { relayP99Ms: await relayP99Ms(postgres.value, from, to), deliveryP99Ms: await deliveryP99Ms(postgres.value, from, to) };
      return { workload, side, backlogAtEnd, measurement: { ...measurement, ...latency } };
    };

    const rows: Row[] = [];
    let peakRssSingleBytes: number | undefined;
    const workloads = workloadsOf(config, prefix);
    // A service process keeps getting cheaper for its first minute or so while V8 optimises it
    // (docs/profile.md), so every process gets BENCH_WARMUP seconds (default 20) of single requests
    // over both protocols, unmeasured, before its first measured row: the rows compare warm
    // processes, as a service that has been running is.
    const warmupSeconds = Number(process.env.BENCH_WARMUP ?? 20);
    const warmup = async (baseUrls: string[]) => {
      if (warmupSeconds <= 0) return;
      log(`warm-up: ${warmupSeconds}s over ${baseUrls.length} instance(s)`);
      for (const protocol of protocols) {
        await runServiceWorkload(app, { ...workloads[0]!, durationSeconds: Math.ceil(warmupSeconds / 2) }, protocol, 0, 0, baseUrls);
      }
    };
    await warmup([app.baseUrl]);
    for (const workload of workloads) {
      log(`${workload.name}: pgbench (naive transaction)`);
      rows.push({ workload: workload.name, side: "pgbench", measurement: await measured(() => runPgbench(postgres.value, workload)) });
      // The ledger's own function with nothing in front: 1 item per call at the naive script's
      // concurrency, batches with 2 clients (each call already keeps a core busy).
      for (const [side, items, clients] of [["fn-1", 1, workload.clients], ["fn-64", 64, 2], ["ceiling", 1000, 2]] as const) {
        log(`${workload.name}: pgbench (ledger_apply, ${items} items per call, ${clients} clients)`);
        rows.push({ workload: workload.name, side, measurement: await measured(() => runBatchFunction(postgres.value, { ...workload, clients }, items)) });
      }
      for (const protocol of protocols) {
        rows.push(await serviceRow(workload.name, protocol, () => runServiceWorkload(app, workload, protocol)));
      }
      // The high-water mark before any batch row: what single requests alone need.
      peakRssSingleBytes ??= app.peakRssBytes();
      for (const protocol of protocols) {
        for (const size of batchSizes) {
          rows.push(await serviceRow(workload.name, `${protocol}-batch-${size}`, () => runServiceWorkload(app, workload, protocol, 0, size)));
        }
      }
    }

    // The framework floor (framework-floor.ts): the same closed loops against a process that only
    // speaks the protocol, at the single Connect row's rate, so the service's CPU per payment can be
    // read against what its stack costs before any ledger work.
    const floors: FloorResult[] = [];
    const singleConnect = rows.find((r) => r.workload === "uniform" && r.side === "connect")!.measurement;
    const commitMs = floorCommitMs(workloads[0]!.clients, singleConnect.tps);
    for (const stack of FLOOR_STACKS) {
      log(`framework floor: ${stack}, one batch in flight committing every ${commitMs} ms`);
      const floor = await startFloor(stack, commitMs);
      try {
        if (warmupSeconds > 0) await runServiceWorkload(floor, { ...workloads[0]!, durationSeconds: warmupSeconds }, "connect");
        const measurement = await measured(() => runServiceWorkload(floor, workloads[0]!, "connect"), [floor]);
        floors.push({ stack, commitMs, measurement });
      } finally {
        await floor.stop();
      }
    }

    // Several instances: two more processes on the same database, the clients spread over the
    // three, and still the one relay (it publishes every instance's events).
    log("starting two more instances");
    const others = await Promise.all([startService(postgres.value, serviceEnv, app.key), startService(postgres.value, serviceEnv, app.key)]);
    for (const other of others) stops.push(() => other.stop());
    const all = [app, ...others];
    await warmup(all.map((s) => s.baseUrl));
    for (const workload of workloads) {
      rows.push(await serviceRow(workload.name, "connect-1-instance", () => runServiceWorkload(app, workload, "connect")));
      rows.push(
        await serviceRow(workload.name, "connect-3-instances", () => runServiceWorkload(app, workload, "connect", 0, 0, all.map((s) => s.baseUrl)), all),
      );
    }
    await Promise.all(others.map((other) => other.stop()));

    const uniform = workloads[0]!;
    const halfLoad: HalfLoadResult[] = [];
    for (const protocol of protocols) {
      const single = rows.find((r) => r.workload === "uniform" && r.side === protocol)!.measurement;
      const rate = Math.max(1, Math.round(single.tps / 2));
      log(`latency at ${rate}/s over ${protocol}`);
      const row = await serviceRow("uniform", protocol, () => runServiceWorkload(app, uniform, protocol, rate));
      halfLoad.push({ protocol, rate, measurement: row.measurement });
    }

    const serviceP99s = [...rows, ...halfLoad.map((h) => ({ measurement: h.measurement }))]
      .map((r) => r.measurement.relayP99Ms)
      .filter((v): v is number => v !== undefined && Number.isFinite(v));
    const partial: Omit<BenchResults, "headline"> = {
      generatedAt: new Date().toISOString(),
      machine: {
        cpus: availableParallelism(),
        node: process.version,
        postgres: execFileSync(pgbenchBinary(), ["--version"], { encoding: "utf8" }).trim(),
      },
      config: { ...config, fundingCents: config.fundingCents.toString() },
      postgresSettings,
      rows,
      halfLoad,
      floors,
      peakRssBytes: app.peakRssBytes(),
      peakRssSingleBytes: peakRssSingleBytes ?? Number.NaN,
      relayCommitToDeliveryP99Ms: Math.max(...serviceP99s),
    };
    const results: BenchResults = { ...partial, headline: headlineOf(partial) };
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
