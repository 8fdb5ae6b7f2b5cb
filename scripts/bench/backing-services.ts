/**
 * Throwaway PostgreSQL and Kafka for one benchmark run, started through the same
 * scripts/services/<name>.sh the tests use, so every side of the comparison shares their settings.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./tools.js";

export interface BackingService {
  /** What the service script provides: DATABASE_URL or KAFKA_BROKERS. */
  value: string;
  dir: string;
  stop(): void;
}

/** Starts scripts/services/<name>.sh in a fresh temporary directory; `stop()` also removes it. */
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
      execFileSync("bash", [script, "stop", dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The postmaster's pid of a cluster started by postgres.sh (first line of postmaster.pid). */
export function postmasterPid(postgres: BackingService): number {
  return Number(readFileSync(join(postgres.dir, "postgres/data/postmaster.pid"), "utf8").split("\n")[0]);
}
