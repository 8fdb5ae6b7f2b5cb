/**
 * The high-availability topology of scripts/services/ha/postgres-ha.sh (pg_auto_failover: a
 * monitor, a primary and a synchronous standby, automatic failover), owned by one test.
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const script = new URL("../../scripts/services/ha/postgres-ha.sh", import.meta.url).pathname;

export interface NodeState {
  name: string;
  port: number;
  reported: string;
  goal: string;
}

export interface PostgresHa {
  /** Both nodes, target_session_attrs=read-write: what the service is given. */
  url: string;
  /** URL of one node's `postgres` database. */
  urlOf(port: number): string;
  /** The monitor's view of the nodes. */
  state(): Promise<NodeState[]>;
  /** kill -9 of the current primary's whole node (keeper, postmaster, backends); its name. */
  killPrimary(): Promise<string>;
  /** Starts a killed node's keeper again (it rejoins as a standby). */
  restart(name: string): Promise<void>;
  /** Stops everything and deletes the files. */
  remove(): Promise<void>;
}

export async function startPostgresHa(): Promise<PostgresHa> {
  const dir = mkdtempSync(join(tmpdir(), "ledger-pg-ha-"));
  chmodSync(dir, 0o755);
  const script$ = (...args: string[]) => run("bash", [script, ...args], { maxBuffer: 1 << 20 }).then(({ stdout }) => stdout.trim());
  // The nodes run in sessions of their own: stop them even when the test process dies.
  const onExit = () => {
    try {
      execFileSync("bash", [script, "stop", dir], { stdio: "ignore" });
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Best effort.
    }
  };
  process.once("exit", onExit);
  let started = false;
  const ha: PostgresHa = {
    url: "",
    urlOf: (port) => `postgres://postgres@127.0.0.1:${port}/postgres`,
    async state() {
      const lines = (await script$("state", dir)).split("\n").filter(Boolean);
      return lines.map((line) => {
        const [name, port, reported, goal] = line.split(" ");
        return { name: name!, port: Number(port), reported: reported!, goal: goal! };
      });
    },
    killPrimary: () => script$("kill-primary", dir),
    restart: async (name) => void (await script$("restart", name, dir)),
    async remove() {
      try {
        if (started) await script$("stop", dir);
      } finally {
        rmSync(dir, { recursive: true, force: true });
        process.off("exit", onExit);
      }
    },
  };
  try {
    const output = await script$("start", dir);
    started = true;
    const url = /^DATABASE_URL=(.+)$/m.exec(output)?.[1];
    if (!url) throw new Error(`postgres-ha.sh start printed no DATABASE_URL:\n${output}`);
    return Object.assign(ha, { url });
  } catch (error) {
    started = true;
    await ha.remove().catch(() => {});
    throw error;
  }
}
