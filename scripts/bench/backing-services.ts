/**
 * Throwaway PostgreSQL and Kafka for one benchmark run, started through the same
 * scripts/services/<name>.sh the tests use, so every side of the comparison shares their settings.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import postgres from "postgres";
import { repoRoot } from "./tools.js";

export interface BackingService {
  /** What the service script provides: DATABASE_URL or KAFKA_BROKERS. */
  value: string;
  dir: string;
  stop(): void;
}

/**
 * Starts scripts/services/<name>.sh in a fresh temporary directory; `stop()` also removes it, after
 * the script's stop has returned (it returns once the process is gone). `stop()` never throws: a
 * failed cleanup is reported on stderr and does not decide the run's outcome.
 */
export function startBackingService(name: "postgres" | "kafka"): BackingService {
  const script = join(repoRoot, "scripts/services", `${name}.sh`);
  const dir = mkdtempSync(join(tmpdir(), `ledger-bench-${name}-`));
  // The scripts may hand the directory to another user (postgres), which must be able to enter it.
  chmodSync(dir, 0o755);
  const out = execFileSync("bash", [script, "start", dir], { encoding: "utf8" });
  const line = out.trim().split("\n").at(-1) ?? "";
  const value = line.slice(line.indexOf("=") + 1);
  if (!line.includes("=") || value === "") throw new Error(`${name}.sh printed no VAR=value: ${out}`);
  return {
    value,
    dir,
    stop() {
      const report = (step: string, error: unknown) =>
        console.error(`${name}: ${step} failed: ${error instanceof Error ? error.message : String(error)}`);
      try {
        execFileSync("bash", [script, "stop", dir], { stdio: ["ignore", "ignore", "inherit"] });
      } catch (error) {
        report("stop", error);
      }
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
      } catch (error) {
        report(`removing ${dir}`, error);
      }
    },
  };
}

/** The postmaster's pid of a cluster started by postgres.sh (first line of postmaster.pid). */
export function postmasterPid(postgres: BackingService): number {
  return Number(readFileSync(join(postgres.dir, "postgres/data/postmaster.pid"), "utf8").split("\n")[0]);
}

/** The durability settings every benchmark row runs with, as the report prints them. */
export const DURABLE_SETTINGS = ["fsync", "synchronous_commit", "full_page_writes"] as const;
const REPORTED_SETTINGS = [...DURABLE_SETTINGS, "track_commit_timestamp"] as const;

/**
 * Turns a cluster started by postgres.sh durable: that script relaxes fsync, synchronous_commit and
 * full_page_writes on its command line (for tests), which outranks ALTER SYSTEM, so the command
 * line pg_ctl keeps in postmaster.opts is rewritten and the cluster restarted with it. Returns the
 * settings as the server reports them afterwards, for the report.
 */
export async function makeDurable(service: BackingService): Promise<Record<string, string>> {
  const data = join(service.dir, "postgres/data");
  const optsFile = join(data, "postmaster.opts");
  let opts = readFileSync(optsFile, "utf8");
  for (const name of DURABLE_SETTINGS) opts = opts.replaceAll(`${name}=off`, `${name}=on`);
  writeFileSync(optsFile, opts);
  // Commit times of the outbox rows' writers, for the relay's commit-to-delivery latency
  // (src/relay/outbox-store.ts records them; relay-latency.ts reads them).
  const before = postgres(service.value, { max: 1, onnotice: () => {} });
  await before`alter system set track_commit_timestamp = on`;
  // BENCH_PG_SETTINGS="name=value,..." (experiments: e.g. wal_compression=lz4,max_wal_size=4GB).
  if (process.env.BENCH_PG_SETTINGS?.includes("auto_explain.")) await before`load 'auto_explain'`;
  for (const pair of (process.env.BENCH_PG_SETTINGS ?? "").split(",").filter(Boolean)) {
    const [name, value] = pair.split("=");
    await before.unsafe(`alter system set ${name!.replace(/[^a-z_.]/g, "")} = '${value!.replace(/'/g, "")}'`);
  }
  await before.end();
  const bin = dirname(opts.trim().split(" ")[0]!);
  const ctl = [join(bin, "pg_ctl"), "-D", data, "-w", "-t", "60", "-m", "fast", "restart"];
  const [command, args] = process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", ...ctl]] : [ctl[0]!, ctl.slice(1)];
  execFileSync(command, args, { stdio: "ignore" });
  const sql = postgres(service.value, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select name, setting from pg_settings where name in ${sql(REPORTED_SETTINGS)}`;
    const settings = Object.fromEntries(rows.map((row) => [row.name as string, row.setting as string]));
    if (!DURABLE_SETTINGS.every((name) => settings[name] === "on")) throw new Error(`PostgreSQL did not become durable: ${JSON.stringify(settings)}`);
    return settings;
  } finally {
    await sql.end();
  }
}
