/**
 * The outbox relay as a process of its own (`npm run relay`, src/relay/relay-cli.ts) for the
 * benchmark: the service runs without KAFKA_BROKERS, so the relay's CPU per event is measured apart
 * from the request path's (cpu-meter.ts samples both processes).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { repoRoot } from "./tools.js";

export interface RelayProcess {
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

/** Starts one relay on `databaseUrl` publishing to `brokers`, with the relay's default settings. */
export function startRelayProcess(databaseUrl: string, brokers: string): RelayProcess {
  const inherited = { ...process.env };
  for (const name of Object.keys(inherited)) if (name.startsWith("RELAY_")) delete inherited[name];
  const child = spawn(process.execPath, ["--import", "tsx", "src/relay/relay-cli.ts"], {
    cwd: repoRoot,
    env: { ...inherited, DATABASE_URL: databaseUrl, KAFKA_BROKERS: brokers, LOG_LEVEL: "warn", METRICS_PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return {
    pid: child.pid!,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}
