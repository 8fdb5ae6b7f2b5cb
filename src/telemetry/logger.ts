/**
 * Structured JSON logging (pino). Credentials never reach the log: URL passwords are masked by
 * `redactUrl`, and the usual secret-bearing fields are censored wherever they appear.
 */
import { pino, type Logger } from "pino";

export type { Logger };

/** Field paths pino censors in every log line. */
const REDACTED_PATHS = [
  "password",
  "*.password",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "req.headers.authorization",
  "apiKey",
  "*.apiKey",
  "databaseUrl",
  "*.databaseUrl",
];

/** Creates the process logger. `destination` lets tests capture output. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "payment-ledger" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    },
    destination,
  );
}

/** Returns the URL with any password replaced by `***`, safe to log. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    // A multi-host PostgreSQL URL (h1:p1,h2:p2) is no WHATWG URL: mask its password by pattern.
    const masked = url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^@/]*@/i, "$1:***@");
    return /^[a-z][a-z0-9+.-]*:\/\/[^/]*,/i.test(url) ? masked : "[unparseable url]";
  }
}
