/**
 * A throwaway PostgreSQL cluster for one benchmark run, started through the same
 * scripts/services/postgres.sh the tests use, so both sides of the comparison share its settings.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./tools.js";

export interface Postgres {
  url: string;
  /** The postmaster's pid: its backends are its children. */
  postmasterPid: number;
  stop(): void;
}

const script = join(repoRoot, "scripts/services/postgres.sh");

/** Starts a cluster in a fresh temporary directory; `stop()` shuts it down and removes the files. */
export function startPostgres(): Postgres {
  const dir = mkdtempSync(join(tmpdir(), "ledger-bench-"));
  // postgres.sh hands the directory to the postgres user, which must be able to enter it.
  chmodSync(dir, 0o755);
  const out = execFileSync("bash", [script, "start", dir], { encoding: "utf8" });
  const line = out.trim().split("\n").at(-1) ?? "";
  const url = line.replace(/^DATABASE_URL=/, "");
  if (!url.startsWith("postgres")) throw new Error(`postgres.sh printed no DATABASE_URL: ${out}`);
  // postmaster.pid starts with the pid (see PostgreSQL's miscinit.c).
  const postmasterPid = Number(readFileSync(join(dir, "postgres/data/postmaster.pid"), "utf8").split("\n")[0]);
  return {
    url,
    postmasterPid,
    stop() {
      execFileSync("bash", [script, "stop", dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
