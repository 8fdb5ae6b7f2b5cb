/**
 * Runs one k6 scenario from k6/scenarios as a child process and returns its exit code and the
 * summary its handleSummary wrote (k6/lib/summary.js). Exit code 99 means a threshold failed.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { k6Binary, repoRoot } from "./tools.js";

/** The parts of k6's summary data the callers read. */
export interface K6Summary {
  metrics: Record<string, { values: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }>;
  state: { testRunDurationMs: number };
}

export interface K6Result {
  exitCode: number;
  /** null when k6 ended before writing a summary. */
  summary: K6Summary | null;
  output: string;
}

export interface K6Options {
  /** Passed to the scenario as -e NAME=value (see k6/lib/config.js). */
  env: Record<string, string | number>;
  /** Stream k6's output to this process's stderr as it runs. */
  echo?: boolean;
  /** Skip threshold evaluation (the benchmark measures, it does not judge). */
  noThresholds?: boolean;
}

/** Runs k6/scenarios/<scenario>.js and resolves when k6 exits. */
export async function runK6(scenario: string, options: K6Options): Promise<K6Result> {
  const dir = mkdtempSync(join(tmpdir(), "k6-summary-"));
  const summaryFile = join(dir, "summary.json");
  // --address: k6's own REST API on a free port, so concurrent k6 runs never collide on 6565.
  const args = ["run", "--no-usage-report", "--quiet", "--no-color", "--address", "127.0.0.1:0"];
  if (options.noThresholds) args.push("--no-thresholds");
  for (const [name, value] of Object.entries({ ...options.env, SUMMARY_FILE: summaryFile })) {
    args.push("-e", `${name}=${value}`);
  }
  args.push(join(repoRoot, "k6/scenarios", `${scenario}.js`));

  const child = spawn(k6Binary(), args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (options.echo) process.stderr.write(chunk);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exitCode = await new Promise<number>((ok) => child.once("exit", (code) => ok(code ?? 1)));
  const summary = existsSync(summaryFile) ? (JSON.parse(readFileSync(summaryFile, "utf8")) as K6Summary) : null;
  rmSync(dir, { recursive: true, force: true });
  return { exitCode, summary, output };
}
