/**
 * What SIGINT and SIGTERM do to a running service. The first starts the graceful stop (drain); later
 * ones are ignored while it runs, and are logged; the third forces the process out at once.
 *
 * Why not `process.once`: Ctrl-C in a terminal signals the whole foreground process group, and
 * `npm start` forwards the signal to node again, so one key press arrives twice. With `once`, the
 * second delivery found no handler and killed node mid-drain (open streams ended with "incomplete
 * envelope"). Under npm one press counts twice, so a second press forces the exit; run with node
 * directly, it takes three.
 */
import type { Logger } from "../telemetry/logger.js";

export const SHUTDOWN_SIGNALS = ["SIGTERM", "SIGINT"] as const;
export type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number];

/** Signals received up to and including the one that forces the exit. */
export const FORCE_EXIT_AFTER_SIGNALS = 3;

/** Exit status when the drain is cut short by the third signal. */
export const FORCED_EXIT_STATUS = 1;

export interface ShutdownSignalOptions {
  logger: Logger;
  /** The graceful stop; called once. */
  stop: () => Promise<void>;
  /** Defaults to process.exit; a test passes its own. */
  exit?: (status: number) => void;
  /** Where signals come from (default: the process). */
  target?: Pick<NodeJS.EventEmitter, "on">;
}

export function handleShutdownSignals({ logger, stop, exit = (status) => process.exit(status), target = process }: ShutdownSignalOptions): void {
  let received = 0;
  const onSignal = (signal: ShutdownSignal) => {
    received++;
    if (received === 1) {
      logger.info({ signal }, "shutting down: draining in-flight requests (a third signal forces exit)");
      stop()
        .then(() => {
          logger.info("stopped");
          exit(0);
        })
        .catch((error: unknown) => {
          logger.error({ err: error }, "shutdown failed");
          exit(1);
        });
      return;
    }
    if (received < FORCE_EXIT_AFTER_SIGNALS) {
      logger.warn(
        { signal, received },
        "signal ignored: already draining (Ctrl-C under npm arrives twice: the terminal and npm both send it); the next signal forces exit",
      );
      return;
    }
    logger.warn({ signal, received }, "forced exit: drain cut short by a repeated signal");
    exit(FORCED_EXIT_STATUS);
  };
  for (const signal of SHUTDOWN_SIGNALS) target.on(signal, () => onSignal(signal));
}
