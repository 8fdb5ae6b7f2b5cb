/**
 * The real service (src/main.ts) as a child process on a free port, for the k6 smoke test and the
 * benchmark: the test suite's spawnService (test/support/process.ts) with authentication on and a
 * fresh API key, plus readiness by /readyz (the benchmark runs it at LOG_LEVEL=warn, so there is no
 * "listening" line to wait for) and the peak resident set size of its process, read from /proc.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { testKey, type TestKey } from "../../test/support/api-keys.js";
import { freePort, spawnService } from "../../test/support/process.js";

export interface ServiceProcess {
  pid: number;
  port: number;
  baseUrl: string;
  /** A key with every scope, for "Authorization: Bearer <key>". */
  apiKey: string;
  /** The key as the service was configured with it: pass it to further instances (startService). */
  key: TestKey;
  /** Peak RSS of the process so far (VmHWM), in bytes. */
  peakRssBytes(): number;
  /** Output the service wrote, for diagnosing a failure. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Ready means /readyz answers 200: the port opens before migrations finish (the service waits for
 * its database with the port open and answers UNAVAILABLE meanwhile), so an open port is not enough.
 */
async function ready(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * Polls `port` until it is ready; false when `child` exits first or `timeoutMs` passes (the caller
 * stops it and says why).
 */
export async function untilReady(port: number, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready(port))) {
    if (child.exitCode !== null || Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

/**
 * Starts the service against `databaseUrl` with `env` added (and `key`: another instance's, so that
 * one key works on several instances), and resolves once it is ready (/readyz 200). Rejects with
 * the service's output when it exits or is not ready within 60 s.
 */
export async function startService(databaseUrl: string, env: Record<string, string> = {}, key: TestKey = testKey("k6")): Promise<ServiceProcess> {
  const port = await freePort();
  const service = spawnService({
    LOG_LEVEL: "warn",
    API_KEYS: key.entry,
    ...env,
    HOST: "127.0.0.1",
    PORT: String(port),
    DATABASE_URL: databaseUrl,
  });
  if (!(await untilReady(port, service.child, 60_000))) {
    await service.stop("SIGKILL");
    throw new Error(`service did not start (exit ${service.child.exitCode}):\n${service.output()}`);
  }
  const pid = service.child.pid!;
  return {
    pid,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    apiKey: key.key,
    key,
    peakRssBytes() {
      const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
      return kb ? Number(kb) * 1024 : Number.NaN;
    },
    output: service.output,
    async stop() {
      await service.stop();
    },
  };
}
