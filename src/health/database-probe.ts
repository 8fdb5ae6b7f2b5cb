/** Keeps the health monitor's "database" component current by pinging the database periodically. */
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import type { Logger } from "../telemetry/logger.js";
import type { HealthReporter } from "./health-monitor.js";

/** A ping slower than this counts as the database being unavailable. */
const PING_TIMEOUT_MS = 2_000;

/** True when `select 1` answers within the timeout. */
export async function pingDatabase(db: Database): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
  });
  try {
    return await Promise.race([db.execute(sql`select 1`).then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Pings every `intervalMs` and reports changes; returns a function that stops it. */
export function watchDatabase(db: Database, health: HealthReporter, logger: Logger, intervalMs: number): () => void {
  let last: boolean | undefined;
  let running = false;
  const probe = async () => {
    if (running) return;
    running = true;
    const serving = await pingDatabase(db);
    running = false;
    if (serving !== last && last !== undefined) {
      if (serving) logger.info("database reachable again: serving");
      else logger.error("database unreachable: health reports NOT_SERVING");
    }
    last = serving;
    health.report("database", serving);
  };
  const timer = setInterval(() => void probe(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
