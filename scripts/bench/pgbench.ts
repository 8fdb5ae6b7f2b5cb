/**
 * The SQL baseline: pgbench running authorize-payment.pgbench (the statements of one
 * AuthorizePayment transaction) against the same cluster and accounts as the service, at the same
 * concurrency. Latency percentiles come from pgbench's per-transaction log, not its averages.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import postgres from "postgres";
import { latencySummary } from "./percentiles.js";
import { pgbenchBinary } from "./tools.js";
import type { Measurement, Workload } from "./workload.js";

const run = promisify(execFile);
const scriptFile = join(import.meta.dirname, "authorize-payment.pgbench");
const batchScriptFile = join(import.meta.dirname, "batch-function.pgbench");
const batchItemsFile = join(import.meta.dirname, "batch-items.sql");
const minimalLedgerFile = join(import.meta.dirname, "minimal-ledger.sql");
const minimalScriptFile = join(import.meta.dirname, "minimal-ledger.pgbench");

/** Runs the pgbench baseline for `workload` against `databaseUrl`. */
export function runPgbench(databaseUrl: string, workload: Workload): Promise<Measurement> {
  return pgbench(databaseUrl, workload, scriptFile, 1);
}

/**
 * The ceiling: pgbench calling ledger_apply directly with `items` payments per call
 * (batch-function.pgbench). Rates and counts are per payment; latencies are per call.
 */
export async function runBatchFunction(databaseUrl: string, workload: Workload, items: number): Promise<Measurement> {
  await install(databaseUrl, [batchItemsFile]);
  return pgbench(databaseUrl, workload, batchScriptFile, items);
}

/**
 * The reference: the minimal SQL ledger (minimal-ledger.sql: balances and entries only) applying
 * the same items, `items` per call (minimal-ledger.pgbench). Rates and counts are per payment.
 */
export async function runMinimalLedger(databaseUrl: string, workload: Workload, items: number): Promise<Measurement> {
  await install(databaseUrl, [batchItemsFile, minimalLedgerFile]);
  return pgbench(databaseUrl, workload, minimalScriptFile, items);
}

/** Runs the SQL files the load generator needs (its functions and tables), in order. */
async function install(databaseUrl: string, files: string[]): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    for (const file of files) await sql.unsafe(readFileSync(file, "utf8"));
  } finally {
    await sql.end();
  }
}

async function pgbench(databaseUrl: string, workload: Workload, file: string, items: number): Promise<Measurement> {
  const logDir = mkdtempSync(join(tmpdir(), "pgbench-log-"));
  try {
    const args = [
      "--no-vacuum",
      // Prepared statements over the extended protocol: what postgres.js does for the service.
      "--protocol=prepared",
      `--client=${workload.clients}`,
      `--jobs=${Math.min(2, workload.clients)}`,
      `--time=${workload.durationSeconds}`,
      `--file=${file}`,
      "--log",
      `--log-prefix=${join(logDir, "tx")}`,
      "-D", `accounts=${workload.accounts}`,
      "-D", `prefix=${workload.accountPrefix}`,
      "-D", `hot=${workload.name === "hot-account" ? 1 : 0}`,
      "-D", `zipf=${workload.zipfS}`,
      "-D", `maxamount=${workload.maxAmountCents}`,
      "-D", `items=${items}`,
      databaseUrl,
    ];
    const { stdout } = await run(pgbenchBinary(), args, { maxBuffer: 16 * 1024 * 1024 });
    const latenciesMs: number[] = [];
    for (const file of readdirSync(logDir)) {
      for (const line of readFileSync(join(logDir, file), "utf8").split("\n")) {
        // client_id transaction_no time_us script_no epoch epoch_us; failed ones say "failed".
        const micros = Number(line.split(" ")[2]);
        if (line !== "" && Number.isFinite(micros)) latenciesMs.push(micros / 1000);
      }
    }
    const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1]);
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
    const { p50, p95, p99 } = latencySummary(latenciesMs);
    return { tps: tps * items, p50Ms: p50, p95Ms: p95, p99Ms: p99, transactions: latenciesMs.length * items, failed };
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
}
