/**
 * A view of a database whose ledger_apply calls can be watched: the batcher runs them as prepared
 * statements on the postgres.js client behind drizzle (`db.$client`, src/db/prepared.ts), so the
 * spy wraps that client's `unsafe`.
 */
import type { Database } from "../../src/db/client.js";

type Unsafe = (text: string, ...rest: unknown[]) => Promise<unknown>;

/** What to call for every statement that calls ledger_apply: when it is sent, and with its rows (before the batcher sees them). */
export interface LedgerApplySpy {
  onCall?: () => void;
  onRows?: (rows: { outcomes?: unknown[] }[]) => void;
}

/** `db`, with `spy` told of every ledger_apply statement. */
export function spyOnLedgerApply(db: Database, spy: LedgerApplySpy): Database {
  const client = (db as unknown as { $client: { unsafe: Unsafe } }).$client;
  const spied = new Proxy(client, {
    get: (target, prop) =>
      prop === "unsafe"
        ? async (text: string, ...rest: unknown[]) => {
            const watched = text.includes("ledger_apply");
            if (watched) spy.onCall?.();
            const rows = await target.unsafe(text, ...rest);
            if (watched) spy.onRows?.(rows as { outcomes?: unknown[] }[]);
            return rows;
          }
        : Reflect.get(target, prop),
  });
  return new Proxy(db, { get: (target, prop) => (prop === "$client" ? spied : Reflect.get(target, prop)) }) as Database;
}
