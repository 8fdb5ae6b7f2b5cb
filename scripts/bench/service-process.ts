/**
 * The real service (src/main.ts) as a child process on a free port, for the k6 smoke test and the
 * benchmark. Runs node directly (not through npm) so the pid is the service's own process and its
 * peak resident set size can be read from /proc.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { repoRoot } from "./tools.js";

export interface ServiceProcess {
  pid: number;
  port: number;
  baseUrl: string;
  /** Peak RSS of the process so far (VmHWM), in bytes. */
  peakRssBytes(): number;
  /** Output the service wrote, for diagnosing a failed start. */
  output(): string;
  stop(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that is free right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const address = server.address();
  await new Promise((ok) => server.close(ok));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = createConnection(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), ok(true)));
    socket.once("error", () => ok(false));
  });
}

/**
 * Starts the service against `databaseUrl` with `env` added, and resolves once its port accepts
 * connections. Rejects with the service's output when it exits or does not listen within 60 s.
 */
export async function startService(databaseUrl: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "src/main.ts")], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: "warn", ...env, HOST: "127.0.0.1", PORT: String(port), DATABASE_URL: databaseUrl },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));

  const deadline = Date.now() + 60_000;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`service did not start (exit ${child.exitCode}):\n${output}`);
    }
    await sleep(100);
  }

  return {
    pid: child.pid!,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    peakRssBytes() {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
      return kb ? Number(kb) * 1024 : Number.NaN;
    },
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
