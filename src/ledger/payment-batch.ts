/**
 * Group commit for every money-moving command. Concurrent commands are queued and sent to PostgreSQL
 * together as one call of ledger_apply (src/ledger/sql/30-ledger-apply.sql), which runs every
 * item's command in order inside one statement. Per batch this costs one
 * round trip and one commit, and the balance rows are locked once, for the time the database needs
 * to apply the batch, never across a network round trip. That is what keeps a hot payee fast.
 *
 * No request waits for a timer: when fewer than `maxInFlight` batches are running, a request is sent
 * at once (a batch of one); batches only grow while the database is busy with earlier ones.
 * Each item keeps its own idempotency key and gets its own outcome.
 */
import { SpanKind } from "@opentelemetry/api";
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { HotStatement } from "../db/prepared.js";
import { withSpan } from "../telemetry/trace-context.js";
import { Compile } from "typebox/compile";
import { CommitNotifier } from "./change-notifier.js";
import { ItemGate } from "./item-gate.js";
import { CommandItem, CommandItems, type CommandOutcome } from "./ledger-core.js";
import { retryTransient } from "./transient-retry.js";

/** One command in the form ledger_apply takes (declared in ledger-core.ts). */
export type BatchItem = CommandItem;

/** What ledger_apply reports for one item: done now or replayed (with the stored result), or refused. */
export type BatchOutcome = CommandOutcome;

/**
 * Items are checked against their declaration before they reach SQL: a malformed one is a bug here.
 * One validator per kind, chosen by the item's `kind`: the union's compiled function (every kind's
 * checks in one body) was one of the larger costs of a single payment (docs/profile.md).
 */
const checkByKind = new Map(Object.values(CommandItems).map((schema) => [schema.properties.kind.const as string, Compile(schema)]));
const checkAny = Compile(CommandItem);

function requireValidItem(item: BatchItem): void {
  const check = checkByKind.get((item as { kind?: unknown }).kind as string) ?? checkAny;
  if (check.Check(item)) return;
  const [first] = check.Errors(item);
  throw new Error(`ledger_apply item ${(item as { kind?: string }).kind} is malformed at ${first?.instancePath}: ${first?.message}`);
}

const APPLY = new HotStatement((json: string, ttl: number) => sql`select ledger_apply(${json}::jsonb, ${ttl}::int) as outcomes`);
const APPLY_ATOMIC = new HotStatement((json: string, ttl: number) => sql`select ledger_apply_atomic(${json}::jsonb, ${ttl}::int) as outcomes`);

export interface BatchOptions {
  idempotencyTtlHours: number;
  /** Most items per database call. */
  maxBatchSize: number;
  /** Most database calls at once; keep it below the pool size so other work finds connections. */
  maxInFlight: number;
}

interface Pending {
  item: BatchItem;
  resolve(outcome: BatchOutcome): void;
  reject(error: unknown): void;
}

/** The items of one atomic request: sent as a call of their own, never merged or split. */
interface AtomicGroup {
  items: BatchItem[];
  resolve(outcomes: BatchOutcome[]): void;
  reject(error: unknown): void;
}

/** Queues commands and applies them in batches; one instance per database. */
export class PaymentBatcher {
  private readonly queue: (Pending | AtomicGroup)[] = [];
  private inFlight = 0;
  /** Admission of batch requests' items (runCommands): four full batches, see item-gate.ts. */
  readonly admission: ItemGate;
  /** Tells every instance what committed batches changed. */
  private readonly notifier: CommitNotifier;

  constructor(
    private readonly db: Database,
    private readonly options: BatchOptions,
  ) {
    this.admission = new ItemGate(4 * options.maxBatchSize);
    this.notifier = new CommitNotifier(db);
  }

  /** Applies `item` in the next batch and resolves with its outcome once that batch committed. */
  submit(item: BatchItem): Promise<BatchOutcome> {
    requireValidItem(item);
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.drain();
    });
  }

  /**
   * Queues all `items` before the next batch is cut, so that they travel together (in batches of
   * at most `maxBatchSize`, in order); one promise per item.
   */
  submitAll(items: readonly BatchItem[]): Promise<BatchOutcome>[] {
    items.forEach(requireValidItem);
    const promises = items.map((item) => new Promise<BatchOutcome>((resolve, reject) => this.queue.push({ item, resolve, reject })));
    this.drain();
    return promises;
  }

  /**
   * Applies `items` all or nothing (ledger_apply_atomic, src/ledger/sql/35-ledger-apply-atomic.sql)
   * in a database call of their own, in their turn in the queue: merged with other requests, one
   * request's failure could abort another's. Resolves with one outcome per item.
   */
  submitAtomic(items: readonly BatchItem[]): Promise<BatchOutcome[]> {
    items.forEach(requireValidItem);
    return new Promise((resolve, reject) => {
      this.queue.push({ items: [...items], resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      this.inFlight += 1;
      const head = this.queue[0]!;
      const done = () => {
        this.inFlight -= 1;
        this.drain();
      };
      if ("items" in head) {
        this.queue.shift();
        this.settleAtomic(head).finally(done);
        continue;
      }
      // A batch of single items ends before the next atomic group.
      let end = 0;
      while (end < this.queue.length && end < this.options.maxBatchSize && !("items" in this.queue[end]!)) end += 1;
      this.settle(this.queue.splice(0, end) as Pending[]).finally(done);
    }
  }

  private async settleAtomic(group: AtomicGroup): Promise<void> {
    try {
      const outcomes = await this.apply(group.items, true);
      group.resolve(outcomes);
      this.notifier.committed(group.items, outcomes);
    } catch (error) {
      group.reject(error);
    }
  }

  /**
   * Runs a batch. If it fails for a reason other than contention (already retried), each item is
   * run alone, so one poisonous request fails by itself instead of taking its batch with it.
   */
  private async settle(batch: Pending[]): Promise<void> {
    try {
      const items = batch.map((p) => p.item);
      const outcomes = await this.apply(items, false);
      batch.forEach((p, i) => p.resolve(outcomes[i]!));
      // After the commit, outside the money transaction (see change-notifier.ts).
      this.notifier.committed(items, outcomes);
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      await Promise.all(batch.map((p) => this.settle([p])));
    }
  }

  /** One database call; its span is a child of the first item's request and links the others. */
  private apply(items: BatchItem[], atomic: boolean): Promise<BatchOutcome[]> {
    return withSpan(
      atomic ? "ledger_apply_atomic" : "ledger_apply",
      items[0]?.traceparent,
      {
        kind: SpanKind.CLIENT,
        attributes: { "db.system.name": "postgresql", "db.operation.name": "ledger_apply", "db.operation.batch.size": items.length },
        links: items.slice(1).map((item) => item.traceparent),
      },
      () => this.applyNow(items, atomic),
    );
  }

  private async applyNow(items: BatchItem[], atomic: boolean): Promise<BatchOutcome[]> {
    const json = JSON.stringify(items);
    const ttl = this.options.idempotencyTtlHours;
    const statement = atomic ? APPLY_ATOMIC : APPLY;
    const rows = await retryTransient(() => statement.query<{ outcomes: BatchOutcome[] }>(this.db, json, ttl));
    const outcomes = rows[0]?.outcomes;
    if (!Array.isArray(outcomes) || outcomes.length !== items.length) {
      throw new Error(`ledger_apply returned ${outcomes?.length} outcomes for ${items.length} items`);
    }
    return outcomes;
  }
}
