/** Runs the service as a real child process (`src/main.ts`), as `npm start` does. */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

export interface ServiceProcess {
  child: ChildProcess;
  /** Everything written so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves when a log line matches, rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/**
 * The node arguments of `npm start` (package.json is their one definition: the heap limit there is
 * what keeps peak RSS under 256 MB), so tests and the benchmark run the process users run.
 */
export function serviceNodeArgs(): string[] {
  const { scripts } = JSON.parse(readFileSync("package.json", "utf8")) as { scripts: { start: string } };
  const match = /^exec node (.+)$/.exec(scripts.start);
  if (!match) throw new Error(`package.json start script is not "exec node ...": ${scripts.start}`);
  return match[1]!.split(" ");
}

export function spawnService(env: Record<string, string>): ServiceProcess {
  const inherited = { ...process.env };
  delete inherited.DATABASE_URL;
  // The harness's broker is for tests that ask for it: without it the relay stays off.
  delete inherited.KAFKA_BROKERS;
  const child = spawn(process.execPath, serviceNodeArgs(), {
    // A free metrics port per process: the default 9464 would collide between parallel test files.
    env: { ...inherited, METRICS_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  return {
    child,
    output: () => output,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(output)) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; output so far:\n${output}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = await once(child, "exit");
      return code as number | null;
    },
  };
}
