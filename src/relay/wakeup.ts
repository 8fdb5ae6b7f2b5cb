/**
 * How the relay learns that there is work: the service sends NOTIFY on `OUTBOX_CHANNEL` after each
 * batch that wrote outbox rows committed (src/ledger/change-notifier.ts), and the relay LISTENs. Notifications sent while
 * no listener is connected are lost, so the relay also polls on a timer; the wake-up only cuts the
 * latency, correctness never depends on it.
 */
import type { DatabaseHandle } from "../db/client.js";

import { OUTBOX_CHANNEL } from "../outbox/channels.js";

export { OUTBOX_CHANNEL };

/** Calls `onWake` on every notification; resolves to a function that stops listening. */
export type WakeupSource = (onWake: () => void) => Promise<() => Promise<void>>;

/** LISTEN on the database behind `handle` (a dedicated connection on PostgreSQL). */
export function listenForOutbox(handle: DatabaseHandle): WakeupSource {
  return async (onWake) => {
    if (handle.postgresClient) {
      // postgres.js re-establishes a lost LISTEN connection by itself and then calls the
      // third argument: wake up then too, because notifications sent meanwhile were lost.
      const request = await handle.postgresClient.listen(OUTBOX_CHANNEL, onWake, onWake);
      return () => request.unlisten();
    }
    if (handle.pglite) {
      const unlisten = await handle.pglite.listen(OUTBOX_CHANNEL, onWake);
      return () => unlisten();
    }
    return async () => {};
  };
}

/**
 * A doorbell for one waiter: `ring()` wakes the current `wait()`, and a ring while nobody waits is
 * remembered, so a notification that arrives during a batch is not lost.
 */
export class Doorbell {
  #rung = false;
  #wake: (() => void) | undefined;

  /** Whether a ring is waiting to be taken by the next `wait()`. */
  get pending(): boolean {
    return this.#rung;
  }

  ring(): void {
    this.#rung = true;
    this.#wake?.();
  }

  /** Resolves on the next ring (or a remembered one) or after `ms`, whichever is first: true when rung. */
  async wait(ms: number): Promise<boolean> {
    if (!this.#rung && ms > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    const rung = this.#rung;
    this.#rung = false;
    return rung;
  }
}
