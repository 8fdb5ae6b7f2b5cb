/**
 * `npm run bench:read-side`: the read side on one account with 1,000,000 entries (BENCH_READ_ENTRIES),
 * on a throwaway PostgreSQL (scripts/services/postgres.sh), measured in-process through the Ledger
 * (database time plus driver; no HTTP):
 *   - p50/p99 of a statement page (ListAccountEntries, 50 rows) at random depths, both directions;
 *   - p50/p99 of a payment list page (ListPayments of the account, 50 rows) at random depths;
 *   - p50/p99 of GetAccountBalance as_of a random instant;
 *   - the cost of the entry chain on the group-commit path: ledger_apply with 64
 *     payments per call, with the chain and change-notify triggers on and off.
 * Not a test: the 2 cores are shared, numbers are indicative; compare ratios within one run.
 */
import { sql } from "drizzle-orm";
import { openDatabase } from "../../src/db/client.js";
import { runMigrations } from "../../src/db/migrate.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { encodePageToken } from "../../src/ledger/page-token.js";
import { startBackingService } from "./backing-services.js";
import { latencySummary } from "./percentiles.js";

const ENTRIES = Number(process.env.BENCH_READ_ENTRIES ?? 1_000_000);
const SAMPLES = Number(process.env.BENCH_READ_SAMPLES ?? 300);
const COUNTERPARTIES = 1_000;
const CHUNK = 50_000;
const log = (message: string) => console.error(`bench:read-side: ${message}`);
const ctx = { clientId: "bench" };

async function timed<T>(samples: number[], fn: () => Promise<T>): Promise<T> {
  const start = process.hrtime.bigint();
  const result = await fn();
  samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  return result;
}

const fmt = (s: { p50: number; p99: number }) => `p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms`;

async function main(): Promise<void> {
  const postgres = startBackingService("postgres");
  const handle = await openDatabase({ url: postgres.value, poolSize: 4, pgliteDataDir: "" });
  try {
    await runMigrations(handle);
    const ledger = new Ledger(handle.db, { idempotencyTtlHours: 24 });
    const db = handle.db;
    const hot = (await ledger.createAccount({ currency: "USD", displayName: "hot", accountId: "hot" }, ctx)).accountId;
    await ledger.depositFunds({ idempotencyKey: "seed", accountId: hot, amountCents: 10n ** 12n, currency: "USD" }, ctx);
    for (let i = 0; i < COUNTERPARTIES; i += 100) {
      await db.execute(sql`
        with a as (insert into accounts (id, currency, display_name)
                   select 'cp' || g, 'USD', 'counterparty ' || g from generate_series(${i}::int, ${i + 99}::int) g returning id)
        insert into balances (account_id, currency, allow_negative) select id, 'USD', true from a`);
    }

    // Payments alternate direction between the hot account and one of the counterparties; the
    // entries go through the chain trigger exactly as the service's writes do.
    log(`writing ${ENTRIES} entries on the hot account (${2 * ENTRIES} entries in all)`);
    const t0 = Date.now();
    const writeStart = process.hrtime.bigint();
    for (let from = 1; from <= ENTRIES; from += CHUNK) {
      const to = Math.min(ENTRIES, from + CHUNK - 1);
      await db.execute(sql`
        insert into payments (id, payer_account_id, payee_account_id, amount_cents, currency, status, created_at)
        select 'B' || lpad(g::text, 25, '0'),
               case when g % 2 = 0 then 'hot' else 'cp' || (g % ${COUNTERPARTIES}) end,
               case when g % 2 = 0 then 'cp' || (g % ${COUNTERPARTIES}) else 'hot' end,
               1 + g % 7, 'USD', 'AUTHORIZED', to_timestamp(${t0 / 1000}::float8) + g * interval '1 ms'
        from generate_series(${from}::int, ${to}::int) g`);
      await db.execute(sql`
        insert into ledger_entries (transfer_id, account_id, amount_cents, currency, created_at)
        select p.id, x.account_id, x.amount, 'USD', p.created_at
        from payments p, lateral (values (p.payer_account_id, -p.amount_cents), (p.payee_account_id, p.amount_cents)) x(account_id, amount)
        where p.id between ${"B" + String(from).padStart(25, "0")} and ${"B" + String(to).padStart(25, "0")}
        order by p.id`);
      log(`  ${to} payments`);
    }
    const writeSeconds = Number(process.hrtime.bigint() - writeStart) / 1e9;
    await db.execute(sql`update balances b set available_cents = s.total, version = s.n
      from (select account_id, sum(amount_cents) as total, count(*) as n from ledger_entries group by account_id) s
      where s.account_id = b.account_id`);
    await db.execute(sql`analyze`);
    const head = (await ledger.getBalance(hot)).version;
    log(`hot account has ${head} entries; wrote ${(2 * ENTRIES / writeSeconds).toFixed(0)} entries/s with the chain trigger`);

    const random = (max: bigint) => BigInt(Math.floor(Math.random() * Number(max)));
    const results: Record<string, number[]> = { statementOldestFirst: [], statementNewestFirst: [], paymentsPage: [], balanceAsOf: [], statementFirstPage: [], paymentsFirstPage: [] };
    for (let i = 0; i < SAMPLES; i++) {
      // Payment g is the hot account's entry number g, written at t0 + g ms, and its line number g
      // (no holds here): a statement page token is the line sequence, as history.ts pages it.
      const g = 1 + Number(random(BigInt(ENTRIES)));
      const micros = ((BigInt(t0) + BigInt(g)) * 1000n).toString();
      const line = [String(g)];
      const statementFilters = (newestFirst: boolean) => ({ a: hot, f: undefined, t: undefined, n: newestFirst, v: 3 });
      await timed(results.statementOldestFirst!, () =>
        ledger.listAccountEntries({ accountId: hot, newestFirst: false, pageSize: 50, pageToken: encodePageToken(statementFilters(false), line) }));
      await timed(results.statementNewestFirst!, () =>
        ledger.listAccountEntries({ accountId: hot, newestFirst: true, pageSize: 50, pageToken: encodePageToken(statementFilters(true), line) }));
      await timed(results.statementFirstPage!, () => ledger.listAccountEntries({ accountId: hot, newestFirst: true, pageSize: 50, pageToken: "" }));
      await timed(results.paymentsPage!, () =>
        ledger.listPayments({ accountId: hot, statuses: [], pageSize: 50, pageToken: encodePageToken({ a: hot, s: [] }, [micros, "B" + String(g).padStart(25, "0")]) }));
      await timed(results.paymentsFirstPage!, () => ledger.listPayments({ accountId: hot, statuses: [], pageSize: 50, pageToken: "" }));
      await timed(results.balanceAsOf!, () => ledger.getBalanceAsOf(hot, new Date(t0 + g)));
    }
    const lines = Object.entries(results).map(([name, samples]) => `${name.padEnd(22)} ${fmt(latencySummary(samples))}`);

    // The chain's cost on the group-commit path.
    const batches = 60;
    const chainCost: Record<string, number[]> = { on: [], off: [] };
    let n = 0;
    for (let round = 0; round < batches; round++) {
      for (const mode of round % 2 === 0 ? ["on", "off"] : ["off", "on"]) {
        const state = mode === "on" ? sql`enable` : sql`disable`;
        await db.execute(sql`alter table ledger_entries ${state} trigger ledger_entries_chain`);
        await db.execute(sql`alter table ledger_entries ${state} trigger ledger_entries_notify`);
        await db.execute(sql`alter table payment_transitions ${state} trigger payment_transitions_notify`);
        const base = n;
        n += 64;
        await timed(chainCost[mode]!, () => db.execute(sql`
          select ledger_apply((select jsonb_agg(jsonb_build_object(
            'kind', 'authorize', 'clientId', 'bench', 'key', 'k' || g, 'method', 'AuthorizePayment', 'requestHash', 'h',
            'paymentId', 'C' || lpad(g::text, 25, '0'),
            'payerAccountId', 'cp' || (g % 500), 'payeeAccountId', 'cp' || (500 + g % 500), 'amountCents', '1',
            'currency', 'USD', 'description', '', 'captureMethod', 'AUTOMATIC', 'holdExpiresAt', null,
            'at', ledger_iso(now()), 'eventId', 'e' || g, 'traceparent', null) order by g)
            from generate_series(${base + 1}::int, ${base + 64}::int) g), 24)`));
      }
    }
    await db.execute(sql`alter table ledger_entries enable trigger ledger_entries_chain`);
    await db.execute(sql`alter table ledger_entries enable trigger ledger_entries_notify`);
    await db.execute(sql`alter table payment_transitions enable trigger payment_transitions_notify`);
    const on = latencySummary(chainCost.on!);
    const off = latencySummary(chainCost.off!);
    lines.push(
      `authorize 64 (chain on)  ${fmt(on)}`,
      `authorize 64 (chain off) ${fmt(off)}`,
      `chain + notify cost: ${(((on.p50 - off.p50) / 64) * 1000).toFixed(0)} us per payment at p50 (${(((on.p50 / off.p50) - 1) * 100).toFixed(0)}% of the batch)`,
      `seed write rate with the chain trigger: ${(2 * ENTRIES / writeSeconds).toFixed(0)} entries/s`,
    );
    console.log(`read side, hot account with ${head} entries, ${SAMPLES} samples each (in-process, 50 rows per page)`);
    for (const line of lines) console.log(line);
  } finally {
    await handle.close();
    postgres.stop();
  }
}

await main();
