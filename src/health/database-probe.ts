/**
 * Keeps the health monitor's "database" component current. Readiness must turn false within 1 s
 * of losing the database and true within 1 s of its return (issue 8), so the database is pinged
 * every 250 ms with a 750 ms bound, and a request that failed because the database was unreachable
 * reports at once (`suspect`). The ping has its own connection where the driver allows it: on the
 * shared pool a `select 1` queued behind 20 busy payment transactions and timed out under load,
 * reporting an outage that was not there.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import type { Logger } from "../telemetry/logger.js";
import type { HealthReporter } from "./health-monitor.js";

/** A ping slower than this counts as the database being unavailable. */
const PING_TIMEOUT_MS = 750;
/** Between pings: with the timeout, a silent outage is seen within about 1 s. */
export const DATABASE_PROBE_INTERVAL_MS = 250;

/** Resolves when the database answered, rejects otherwise. */
export type Ping = () => Promise<unknown>;

/** True when `ping` (by default `select 1` on `db`) answers within the timeout. */
export async function pingDatabase(db: Database, ping: Ping = () => db.execute(sql`select 1`)): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
  });
  try {
    return await Promise.race([ping().then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface DatabaseWatch {
  /** A real query just failed for want of the database: report NOT_SERVING now, probe again soon. */
  suspect(): void;
  stop(): void;
}

/** Pings every `intervalMs` and reports changes. */
export function watchDatabase(
  db: Database,
  health: HealthReporter,
  logger: Logger,
  intervalMs = DATABASE_PROBE_INTERVAL_MS,
  ping?: Ping,
): DatabaseWatch {
  let last: boolean | undefined;
  let running = false;
  let downSince = 0;
  const set = (serving: boolean) => {
    if (serving !== last && last !== undefined) {
      if (serving) logger.info({ downMs: Math.round(performance.now() - downSince) }, "database reachable again: serving");
      else logger.error("database unreachable: health reports NOT_SERVING");
    }
    if (!serving && last !== false) downSince = performance.now();
    last = serving;
    health.report("database", serving);
  };
  const probe = async () => {
    if (running) return;
    running = true;
    try {
      set(await pingDatabase(db, ping));
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void probe(), intervalMs);
  timer.unref();
  return {
    suspect() {
      // The next ping (at most intervalMs away) turns it back when the failure was a one-off.
      if (last !== false) set(false);
    },
    stop: () => clearInterval(timer),
  };
}
