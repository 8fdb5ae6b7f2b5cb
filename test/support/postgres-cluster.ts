/**
 * A PostgreSQL cluster owned by one test, so that it can be crashed and restarted on the same port
 * without hurting other test files (they use the run's shared server). Durable settings (fsync,
 * synchronous_commit, full_page_writes on), as scripts/services/postgres.sh: a crash test on a
 * cluster that may lose acknowledged commits would test nothing.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./process.js";

export interface OwnPostgres {
  /** URL of the cluster's `postgres` database. */
  url: string;
  /** Starts (again) on the same port; waits until it accepts connections. */
  start(): void;
  /** `pg_ctl -m immediate stop`: a crash, no shutdown checkpoint; recovery on the next start. */
  crash(): void;
  /** Stops it and deletes its files. */
  remove(): void;
}

/** The newest installed PostgreSQL's binaries (Debian's layout). */
export const bin = () => {
  const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(a) - Number(b));
  return `/usr/lib/postgresql/${versions.at(-1)}/bin`;
};

/** Runs a PostgreSQL binary and returns its output; initdb and pg_ctl refuse to run as root, so as the postgres user then. */
export function asOwner(command: string, args: string[]): string {
  const [file, argv] = process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
  return execFileSync(file, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Initialises a cluster; `started` false leaves it stopped (a database that is not there yet). */
export async function createOwnPostgres({ started = true } = {}): Promise<OwnPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "ledger-own-pg-"));
  chmodSync(dir, 0o777);
  const data = join(dir, "data");
  const port = await freePort();
  asOwner(`${bin()}/initdb`, ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on -c synchronous_commit=on -c full_page_writes=on`;
  const running = () => existsSync(join(data, "postmaster.pid"));
  const cluster: OwnPostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: () => asOwner(`${bin()}/pg_ctl`, ["-D", data, "-l", join(dir, "server.log"), "-w", "-t", "60", "start", "-o", options]),
    crash: () => {
      if (running()) asOwner(`${bin()}/pg_ctl`, ["-D", data, "-m", "immediate", "-w", "stop"]);
    },
    remove: () => {
      try {
        cluster.crash();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  process.once("exit", () => {
    try {
      cluster.remove();
    } catch {
      // Best effort when the test process dies.
    }
  });
  if (started) cluster.start();
  return cluster;
}
