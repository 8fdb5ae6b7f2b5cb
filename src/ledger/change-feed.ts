/**
 * Fan-out of the database's change notifications (src/ledger/sql/50-change-notify.sql) to the
 * watch streams of this process. One LISTEN per process, however many watchers. A notification
 * only says "account X's entries (or payments) changed": each watcher then reads what is new from
 * its own position, so the feed holds no rows and a watcher's memory does not grow with its lag.
 * Notifications can be lost (a reconnect): every subscriber is then woken, and watchers also poll.
 */

/** Where the feed's notifications come from (src/db/notifications.ts listenOn, bound to a channel). */
export type NotificationSource = (onNotify: (payload: string) => void, onReconnect: () => void) => Promise<() => Promise<void>>;

/** The NOTIFY channel of src/ledger/sql/50-change-notify.sql. */
export const CHANGES_CHANNEL = "ledger_changes";

/** One watcher's interest in one key ("a:<account>" or "p:<account>"). */
export class Subscription {
  #rung = false;
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(private readonly onClose: () => void) {}

  /** True once the feed stopped (shutdown) or the subscription was closed. */
  get closed(): boolean {
    return this.#closed;
  }

  ring(): void {
    this.#rung = true;
    this.#wake?.();
  }

  /**
   * Resolves on the next change (or one that arrived since the last wait), after `ms`, when
   * `signal` aborts or when the feed stops, whichever is first. A change that arrives while the
   * watcher reads is remembered, so none is missed between a read and the next wait.
   */
  async wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (!this.#rung && !this.#closed && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener("abort", done);
        this.#wake = done;
      });
      this.#wake = undefined;
    }
    this.#rung = false;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose();
    this.#wake?.();
  }
}

/** The process's change feed. `start()` before use; `stop()` ends every watch stream cleanly. */
export class ChangeFeed {
  readonly #subscribers = new Map<string, Set<Subscription>>();
  #unlisten: (() => Promise<void>) | undefined;
  #stopped = false;

  constructor(private readonly source: NotificationSource) {}

  async start(): Promise<void> {
    this.#unlisten = await this.source(
      // One notification names every account a batch touched, separated by spaces.
      (payload) => {
        for (const key of payload.split(" ")) this.#subscribers.get(key)?.forEach((s) => s.ring());
      },
      () => this.#subscribers.forEach((set) => set.forEach((s) => s.ring())),
    );
  }

  /** Interest in `key`; subscribe before reading, so a change between the read and the wait rings. */
  subscribe(key: string): Subscription {
    const subscription = new Subscription(() => {
      const set = this.#subscribers.get(key);
      set?.delete(subscription);
      if (set?.size === 0) this.#subscribers.delete(key);
    });
    if (this.#stopped) {
      subscription.close();
      return subscription;
    }
    let set = this.#subscribers.get(key);
    if (!set) this.#subscribers.set(key, (set = new Set()));
    set.add(subscription);
    return subscription;
  }

  /** Number of open subscriptions (for tests and metrics). */
  get size(): number {
    let n = 0;
    for (const set of this.#subscribers.values()) n += set.size;
    return n;
  }

  /** Closes every subscription (their streams end) and stops listening. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const set of [...this.#subscribers.values()]) for (const s of [...set]) s.close();
    await this.#unlisten?.().catch(() => {});
    this.#unlisten = undefined;
  }
}
