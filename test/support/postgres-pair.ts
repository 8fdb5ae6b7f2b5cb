/**
 * A primary and a synchronous hot standby (streaming replication, `pg_basebackup -R`), owned by one
 * test, promoted by hand (`pg_ctl promote`): what the driver must cope with during a failover,
 * without the failover manager's timing (test/chaos/failover.test.ts runs pg_auto_failover).
 * Durable settings (fsync, synchronous_commit, full_page_writes on).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asOwner, bin } from "./postgres-cluster.js";
import { freePort } from "./process.js";
import { until } from "./until.js";

export interface PostgresPair {
  primaryPort: number;
  standbyPort: number;
  /** URL of one server's `postgres` database. */
  urlOf(port: number): string;
  /** `postgres://h:standby,h:primary/postgres?target_session_attrs=read-write`: the standby named first. */
  multiHostUrl: string;
  /** The primary's whole process group, SIGKILLed at once (postmaster and every backend). */
  killPrimary(): void;
  /** `pg_ctl promote` of the standby; waits until it accepts writes. */
  promoteStandby(): void;
  /** `pg_ctl -m immediate stop` of the standby. */
  stopStandby(): void;
  /** SQL on one server, as psql prints it (-At). */
  psql(port: number, sql: string): string;
  /** Stops both and deletes their files. */
  remove(): void;
}


export async function createPostgresPair(): Promise<PostgresPair> {
  const dir = mkdtempSync(join(tmpdir(), "ledger-pg-pair-"));
  chmodSync(dir, 0o777);
  const primary = join(dir, "primary");
  const standby = join(dir, "standby");
  const primaryPort = await freePort();
  let standbyPort = await freePort();
  while (standbyPort === primaryPort) standbyPort = await freePort();
  const options = (port: number) =>
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=on -c synchronous_commit=on -c full_page_writes=on`;
  const start = (data: string, port: number) =>
    asOwner(`${bin()}/pg_ctl`, ["-D", data, "-l", `${data}.log`, "-w", "-t", "60", "start", "-o", options(port)]);
  const stop = (data: string) => {
    if (existsSync(join(data, "postmaster.pid"))) asOwner(`${bin()}/pg_ctl`, ["-D", data, "-m", "immediate", "-w", "stop"]);
  };
  const psql = (port: number, sql: string) =>
    asOwner(`${bin()}/psql`, ["-X", "-q", "-At", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-c", sql]).trim();

  asOwner(`${bin()}/initdb`, ["-D", primary, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
  writeFileSync(join(primary, "pg_hba.conf"), "local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n");
  start(primary, primaryPort);
  asOwner(`${bin()}/pg_basebackup`, ["-h", "127.0.0.1", "-p", String(primaryPort), "-U", "postgres", "-D", standby, "-R", "-X", "stream"]);
  // The standby names itself in primary_conninfo, which synchronous_standby_names refers to.
  const auto = join(standby, "postgresql.auto.conf");
  writeFileSync(auto, readFileSync(auto, "utf8").replace(/primary_conninfo = '/, "primary_conninfo = 'application_name=standby "));
  start(standby, standbyPort);
  psql(primaryPort, "alter system set synchronous_standby_names = 'standby'");
  psql(primaryPort, "select pg_reload_conf()");

  const pair: PostgresPair = {
    primaryPort,
    standbyPort,
    urlOf: (port) => `postgres://postgres@127.0.0.1:${port}/postgres`,
    multiHostUrl: `postgres://postgres@127.0.0.1:${standbyPort},127.0.0.1:${primaryPort}/postgres?target_session_attrs=read-write`,
    killPrimary() {
      const pid = Number(readFileSync(join(primary, "postmaster.pid"), "utf8").split("\n")[0]);
      const children = execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
      execFileSync("kill", ["-9", String(pid), ...children]);
    },
    promoteStandby() {
      asOwner(`${bin()}/pg_ctl`, ["-D", standby, "-w", "-t", "60", "promote"]);
    },
    stopStandby: () => stop(standby),
    psql,
    remove() {
      try {
        for (const data of [standby, primary]) {
          try {
            stop(data);
          } catch {
            // Killed already (its postmaster.pid names a dead process).
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  process.once("exit", () => {
    try {
      pair.remove();
    } catch {
      // Best effort when the test process dies.
    }
  });
  // Replication is synchronous and streaming before the test starts.
  await until("the standby to replicate synchronously", () => psql(primaryPort, "select sync_state from pg_stat_replication") === "sync");
  return pair;
}
