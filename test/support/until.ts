/** Polling for conditions that other processes or sockets make true in their own time. */

export interface UntilOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Pause between checks (default 50 ms). */
  intervalMs?: number;
  /** Appended to the failure message, e.g. a child process's output so far. */
  detail?: () => string;
}

/** Resolves once `check` holds; fails with "timed out waiting for <what>" after the timeout. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 30_000, intervalMs = 50, detail }: UntilOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `\n${detail()}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
