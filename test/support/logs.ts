/** The one log-capturing helper: a real pino logger whose lines tests read back, parsed. */
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/telemetry/logger.js";

export interface CapturedLogs {
  logger: Logger;
  /** Every line written so far, parsed. */
  lines: Record<string, unknown>[];
  /** Every line written so far, as the JSON text pino wrote (for "never contains" checks). */
  text(): string;
}

/** A logger at `level` (default info) writing into memory instead of stdout. */
export function capturingLogger(level = "info"): CapturedLogs {
  const lines: Record<string, unknown>[] = [];
  let written = "";
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.toString();
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger(level, sink), lines, text: () => written };
}
