/**
 * Tells every instance what a committed batch changed: which accounts' statements and payment
 * steps (for watch streams, change-feed.ts) and that the outbox has new rows (for relays). Sent
 * after the batch's transaction committed, as one statement of its own, not from inside
 * ledger_apply: PostgreSQL serialises the commits of all transactions that sent NOTIFY (a
 * cluster-wide lock held from before the commit record until after its flush), which would have
 * put one queue in front of every money transaction's commit (docs/write-path.md). This statement
 * writes nothing else, so its commit does not wait for a flush and holds that lock only briefly.
 * A notification is a hint: watchers and relays also poll, so one lost with a crash between commit
 * and notify only delays.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { queryPrepared } from "../db/prepared.js";
import { OUTBOX_CHANNEL } from "../outbox/channels.js";
import { CHANGES_CHANNEL } from "./change-feed.js";
import type { BatchItem, BatchOutcome } from "./payment-batch.js";

/** PostgreSQL refuses payloads of 8,000 bytes or more; keys are split over several below this. */
const MAX_PAYLOAD = 7_000;

/**
 * The change-feed keys of what the batch wrote: "a:<account>" (statement lines) and "p:<account>"
 * (payment steps) for every account an item that took effect names, in the item or in its result.
 * Refusals and replays wrote nothing.
 */
export function changedKeys(items: readonly BatchItem[], outcomes: readonly BatchOutcome[]): string[] {
  const accounts = new Set<string>();
  const add = (value: unknown) => typeof value === "string" && value !== "" && accounts.add(value);
  items.forEach((item, i) => {
    const outcome = outcomes[i];
    if (!outcome || "error" in outcome || outcome.replayed) return;
    const fields = item as Record<string, unknown>;
    for (const name of ["accountId", "fundingAccountId", "payerAccountId", "payeeAccountId"]) add(fields[name]);
    const result = outcome.result as Record<string, unknown> | null;
    const payment = (result?.payment ?? result) as Record<string, unknown> | null;
    add(payment?.payerAccountId);
    add(payment?.payeeAccountId);
    // A split payment's payees (its legs' lines are in their statements).
    for (const leg of (payment?.splits ?? []) as { payeeAccountId?: unknown }[]) add(leg.payeeAccountId);
  });
  return [...accounts].flatMap((account) => [`a:${account}`, `p:${account}`]);
}

/** Payloads of space-separated keys, each under MAX_PAYLOAD bytes (account ids have no spaces). */
export function payloadsOf(keys: readonly string[]): string[] {
  const payloads: string[] = [];
  let current = "";
  for (const key of keys) {
    if (current !== "" && current.length + 1 + key.length > MAX_PAYLOAD) {
      payloads.push(current);
      current = "";
    }
    current = current === "" ? key : `${current} ${key}`;
  }
  if (current !== "") payloads.push(current);
  return payloads;
}

/**
 * Sends the notifications of committed batches, gathered over `windowMs` so that a stream of small
 * batches (single requests) costs one statement per window rather than one per batch; a watcher or
 * relay hears of a commit at most `windowMs` later. Never throws: a lost hint only delays.
 */
export class CommitNotifier {
  #keys = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly windowMs = 5,
  ) {}

  /** Records what a committed batch changed; sends within the window. */
  committed(items: readonly BatchItem[], outcomes: readonly BatchOutcome[]): void {
    const keys = changedKeys(items, outcomes);
    if (keys.length === 0) return;
    for (const key of keys) this.#keys.add(key);
    this.#timer ??= setTimeout(() => void this.flush(), this.windowMs);
  }

  /** Sends what was gathered now (also on the timer). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const payloads = payloadsOf([...this.#keys]);
    this.#keys = new Set();
    if (payloads.length === 0) return;
    const calls = [...payloads.map((payload) => sql`pg_notify(${CHANGES_CHANNEL}, ${payload})`), sql`pg_notify(${OUTBOX_CHANNEL}, '')`];
    try {
      await queryPrepared(this.db, sql`select ${sql.join(calls, sql`, `)}`);
    } catch {
      // A lost hint only delays a watcher or a relay until its poll (the database may be away).
    }
  }
}
