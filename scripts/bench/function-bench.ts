/**
 * `npm run bench:function`: what the database alone costs per payment, with no service in front.
 * pgbench calls ledger_apply directly (batch-function.pgbench) with 1, 64 and 1,000
 * items per call, uniform and hot-account, on a durable throwaway cluster, and reports payments/s
 * and PostgreSQL CPU ms per payment. FUNCTION_SQL=<file> loads another version of the function
 * first (e.g. an older one from git), to compare designs on the same machine in the same way.
 * Settings: BENCH_ACCOUNTS, BENCH_CLIENTS (default 2), BENCH_DURATION (default 5 s), BENCH_SIZES.
 */
import { readFileSync } from "node:fs";
import postgres from "postgres";
import { openDatabase } from "../../src/db/client.js";
import { runMigrations } from "../../src/db/migrate.js";
import { makeDurable, postmasterPid, startBackingService } from "./backing-services.js";
import { cpuPerTransaction, sampleCpu } from "./cpu-meter.js";
import { runBatchFunction } from "./pgbench.js";
import { benchConfigFromEnv, workloadsOf } from "./workload.js";

const log = (message: string) => console.error(`bench:function: ${message}`);

/** Accounts <prefix>1..N straight in SQL, funded so that no payment declines. */
export async function seedAccountsInSql(databaseUrl: string, prefix: string, accounts: number, fundingCents: bigint): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`insert into accounts (id, currency, display_name)
      select ${prefix} || g, 'EUR', 'bench ' || g from generate_series(1, ${accounts}::int) g`;
    await sql`insert into balances (account_id, currency, available_cents)
      select ${prefix} || g, 'EUR', ${fundingCents.toString()}::bigint from generate_series(1, ${accounts}::int) g`;
  } finally {
    await sql.end();
  }
}

async function main(): Promise<void> {
  const config = benchConfigFromEnv();
  const clients = Number(process.env.BENCH_CLIENTS ?? 2);
  const duration = Number(process.env.BENCH_DURATION ?? 5);
  const sizes = (process.env.BENCH_SIZES ?? "1,64,1000").split(",").map(Number);
  const postgresService = startBackingService("postgres");
  try {
    const url = postgresService.value;
    log(`durable: ${JSON.stringify(await makeDurable(postgresService))}`);
    const handle = await openDatabase({ url, poolSize: 2, pgliteDataDir: "" });
    await runMigrations(handle);
    await handle.close();
    if (process.env.FUNCTION_SQL) {
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      await sql.unsafe(readFileSync(process.env.FUNCTION_SQL, "utf8"));
      await sql.end();
      log(`loaded ${process.env.FUNCTION_SQL}`);
    }
    await seedAccountsInSql(url, "bench-", config.accounts, config.fundingCents);
    console.log("workload     items  payments/s  p50 ms/call  p99 ms/call  PG CPU ms/payment");
    for (const workload of workloadsOf({ ...config, clients, durationSeconds: duration }, "bench-")) {
      for (const items of sizes) {
        const before = sampleCpu(process.pid, postmasterPid(postgresService));
        const m = await runBatchFunction(url, workload, items);
        const cpu = cpuPerTransaction(before, sampleCpu(process.pid, postmasterPid(postgresService)), m.transactions);
        console.log(
          `${workload.name.padEnd(12)} ${String(items).padStart(5)} ${m.tps.toFixed(0).padStart(11)} ${m.p50Ms.toFixed(1).padStart(12)} ${m.p99Ms.toFixed(1).padStart(12)} ${cpu.postgres.toFixed(3).padStart(18)}${m.failed ? `  (${m.failed} failed)` : ""}`,
        );
      }
    }
  } finally {
    postgresService.stop();
  }
}

await main();
