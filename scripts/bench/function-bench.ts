/**
 * `npm run bench:function`: what the database alone costs per payment, with no service in front.
 * pgbench runs the naive AuthorizePayment transaction (authorize-payment.pgbench) and calls
 * ledger_apply directly (batch-function.pgbench) with 1, 64 and 1,000 items per call, uniform and
 * hot-account, on a durable throwaway cluster, and reports payments/s, the ratio to the naive
 * transaction and PostgreSQL CPU ms per payment: the rows of `npm run bench` without the service;
 * then the minimal SQL ledger (minimal-ledger.sql: balances and two entries per payment, nothing
 * else) with the same items at the same sizes, the reference for what this machine allows.
 * The naive script and 1 item per call run with BENCH_SINGLE_CLIENTS (default 16), batches with
 * BENCH_CLIENTS (default 2). FUNCTION_SQL=<file> loads another version of the function first (e.g.
 * an older one from git), to compare designs on the same machine in the same way.
 * Settings: BENCH_ACCOUNTS, BENCH_DURATION (default 5 s), BENCH_SIZES.
 *
 * Then the database's own cost per item, ledger_apply as the service calls it (the set-based paths
 * from 4 or 8 items) against the per-item loop (`SET ledger.per_item_path = on`, 30-ledger-apply.sql), one client, no concurrency: the time
 * ledger_apply runs inside the backend (clock_timestamp() around the call, so neither the client, the
 * network nor the commit's fsync count) and the CPU the backend process used (/proc), per item.
 * On shared cores the pgbench CPU column is noise (checkpointer, other sessions); these two are not:
 * the median of BENCH_REPS calls (default 7) and one process's CPU, counted around the timed calls
 * only. For each command kind of BENCH_KINDS (default all of function-items.ts: authorize, deposit,
 * withdraw, capture, void, refund, and mixed: all six in turn); the payments that captures,
 * voids and refunds act on are authorized untimed just before each call. Loop and set path run back
 * to back for each row, so their ratio holds on a shared machine. BENCH_PGBENCH=0 skips the pgbench
 * rows, an empty BENCH_KINDS these. Settings: BENCH_REPS, BENCH_KINDS.
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import postgres from "postgres";
import { openDatabase } from "../../src/db/client.js";
import { runMigrations } from "../../src/db/migrate.js";
import { makeDurable, postmasterPid, startBackingService } from "./backing-services.js";
import { cpuPerTransaction, sampleCpu } from "./cpu-meter.js";
import { seedAccountsInSql } from "./seed.js";
import { runBatchFunction, runMinimalLedger, runPgbench } from "./pgbench.js";
import { benchConfigFromEnv, workloadsOf, type Workload } from "./workload.js";
import { BENCH_FUNDING_ACCOUNT, FUNCTION_KINDS, functionBatch, type FunctionKind } from "./function-items.js";

const log = (message: string) => console.error(`bench:function: ${message}`);

/** utime + stime of a process, in ms (ticks of 10 ms). */
function processCpuMs(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ").map(Number);
  return (fields[11]! + fields[12]!) * 10;
}

/**
 * The database's cost per item of one ledger_apply call of `items` items on `path`: the median
 * in-backend time of `reps` calls (after one warm-up) and the backend's CPU over them, per item, in µs.
 */
async function costPerItem(url: string, kind: FunctionKind, prefix: string, accounts: number, hot: boolean, items: number, path: "set" | "loop", reps: number) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`select set_config('ledger.per_item_path', ${path === "loop" ? "on" : "off"}, false)`;
    await sql.unsafe(`create function pg_temp.timed_apply(p jsonb) returns double precision language plpgsql as $$
      declare t0 timestamptz := clock_timestamp();
      begin perform ledger_apply(p, 24); return extract(epoch from clock_timestamp() - t0) * 1000; end $$`);
    const [backend] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const pid = backend!.pid;
    let cpuMs = 0;
    const call = async (rep: number) => {
      const batch = functionBatch(kind, { prefix, count: accounts, hot }, items, `${kind}-${path}-${hot ? "h" : "u"}-${items}-${rep}-${Date.now()}`);
      if (batch.prepare.length > 0) await sql`select ledger_apply(${JSON.stringify(batch.prepare)}::text::jsonb, 24)`;
      const cpuBefore = processCpuMs(pid);
      const [row] = await sql<{ ms: number }[]>`select pg_temp.timed_apply(${JSON.stringify(batch.items)}::text::jsonb) as ms`;
      cpuMs += processCpuMs(pid) - cpuBefore;
      return row!.ms;
    };
    await call(-1);
    cpuMs = 0;
    const times: number[] = [];
    for (let rep = 0; rep < reps; rep++) times.push(await call(rep));
    times.sort((a, b) => a - b);
    return { execUs: (times[Math.floor(reps / 2)]! * 1000) / items, cpuUs: (cpuMs * 1000) / (reps * items) };
  } finally {
    await sql.end();
  }
}

async function main(): Promise<void> {
  const config = benchConfigFromEnv();
  const clients = Number(process.env.BENCH_CLIENTS ?? 2);
  const singleClients = Number(process.env.BENCH_SINGLE_CLIENTS ?? 16);
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
    await openFundingAccount(url);
    console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    if (process.env.BENCH_PGBENCH !== "0") await pgbenchRows(url, postgresService, config, clients, singleClients, duration, sizes);
    const reps = Number(process.env.BENCH_REPS ?? 7);
    const kinds = (process.env.BENCH_KINDS ?? FUNCTION_KINDS.join(",")).split(",").filter(Boolean) as FunctionKind[];
    for (const kind of kinds) if (!FUNCTION_KINDS.includes(kind)) throw new Error(`BENCH_KINDS: unknown kind ${kind} (${FUNCTION_KINDS.join(", ")})`);
    if (kinds.length > 0) console.log("\nin the database, per item (median of %d calls; backend CPU over them)", reps);
    // "applied": ledger_apply as the service calls it (the set paths from 4 or 8 items, the loop below that).
    if (kinds.length > 0) console.log("kind       workload     items  loop exec µs  applied exec µs  loop/applied  loop CPU µs  applied CPU µs  loop/applied");
    for (const kind of kinds) {
      for (const hot of [false, true]) {
        for (const items of sizes) {
          // Enough calls that the backend's CPU (counted in 10 ms ticks) is measured to a few percent.
          const n = Math.max(reps, Math.ceil(4_000 / items));
          const loop = await costPerItem(url, kind, "bench-", config.accounts, hot, items, "loop", n);
          const set = await costPerItem(url, kind, "bench-", config.accounts, hot, items, "set", n);
          console.log(
            `${kind.padEnd(10)} ${(hot ? "hot-account" : "uniform").padEnd(12)} ${String(items).padStart(5)} ${loop.execUs.toFixed(1).padStart(13)} ${set.execUs.toFixed(1).padStart(16)} ${(loop.execUs / set.execUs).toFixed(2).padStart(12)}x ${loop.cpuUs.toFixed(1).padStart(12)} ${set.cpuUs.toFixed(1).padStart(15)} ${(loop.cpuUs / set.cpuUs).toFixed(2).padStart(12)}x`,
          );
        }
      }
    }
    console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  } finally {
    postgresService.stop();
  }
}

/** The funding account of the bench's currency, opened as the service opens it (deposits and payouts go through it). */
async function openFundingAccount(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const open = { kind: "open", accountId: BENCH_FUNDING_ACCOUNT, currency: "EUR", displayName: "Funding EUR", funding: "true", at: new Date().toISOString(), eventId: "e-funding", traceparent: null };
    await sql`select ledger_apply(${JSON.stringify([open])}::text::jsonb, 24)`;
  } finally {
    await sql.end();
  }
}

/**
 * The pgbench rows: the naive transaction, then ledger_apply with authorizations at each size, then
 * the minimal SQL ledger (minimal-ledger.sql) with the same items at each size: what a ledger with
 * none of this one's features reaches on the same machine in the same run.
 */
async function pgbenchRows(
  url: string, postgresService: ReturnType<typeof startBackingService>, config: ReturnType<typeof benchConfigFromEnv>,
  clients: number, singleClients: number, duration: number, sizes: number[],
): Promise<void> {
  console.log("workload     function      items  clients  payments/s  vs naive  p50 ms/call  p99 ms/call  PG CPU ms/payment");
  const runs = [
    { name: "naive", items: [1], run: (workload: Workload) => runPgbench(url, workload) },
    { name: "ledger_apply", items: sizes, run: (workload: Workload, items: number) => runBatchFunction(url, workload, items) },
    { name: "minimal", items: sizes, run: (workload: Workload, items: number) => runMinimalLedger(url, workload, items) },
  ];
  for (const workload of workloadsOf({ ...config, durationSeconds: duration }, "bench-")) {
    let naiveTps = Number.NaN;
    for (const { name, items: itemSizes, run } of runs) {
      for (const items of itemSizes) {
        const load = { ...workload, clients: items <= 1 ? singleClients : clients };
        const before = sampleCpu(process.pid, postmasterPid(postgresService));
        const m = await run(load, items);
        const cpu = cpuPerTransaction(before, sampleCpu(process.pid, postmasterPid(postgresService)), m.transactions);
        if (name === "naive") naiveTps = m.tps;
        console.log(
          `${workload.name.padEnd(12)} ${name.padEnd(12)} ${String(items).padStart(6)} ${String(load.clients).padStart(8)} ${m.tps.toFixed(0).padStart(11)} ${(m.tps / naiveTps).toFixed(2).padStart(8)}x ${m.p50Ms.toFixed(1).padStart(12)} ${m.p99Ms.toFixed(1).padStart(12)} ${cpu.postgres.toFixed(3).padStart(18)}${m.failed ? `  (${m.failed} failed)` : ""}`,
        );
      }
    }
  }
}

await main();
