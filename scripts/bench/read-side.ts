/**
 * `npm run bench:read-side`: the read side on one account with 1,000,000 entries (BENCH_READ_ENTRIES),
 * on a throwaway PostgreSQL (scripts/services/postgres.sh), measured in-process through the Ledger
 * (database time plus driver; no HTTP):
 *   - p50/p99 of a statement page (ListAccountEntries, 50 rows) at random depths, both directions;
 *   - p50/p99 of a payment list page (ListPayments of the account, 50 rows) at random depths;
 *   - p50/p99 of GetAccountBalance as_of a random instant;
 *   - p50/p99 of search pages over all 1,000,000 payments (ListPayments without an account, 50 rows):
 *     by a metadata pair matching 1% of them (first page and a deep page), by a pair matching one,
 *     by status (10% declined) within a random minute, and by an amount range holding 1%;
 *   - the seeding's write rate (the write path's own cost per line: npm run bench:write-amplification).
 * Not a test: the 2 cores are shared, numbers are indicative; compare ratios within one run.
 */
import { loadavg } from "node:os";
import { sql } from "drizzle-orm";
import { openDatabase } from "../../src/db/client.js";
import { runMigrations } from "../../src/db/migrate.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { encodePageToken } from "../../src/ledger/page-token.js";
import { canonicalMetadata } from "../../src/ledger/validation.js";
import { startBackingService } from "./backing-services.js";
import { latencySummary } from "./percentiles.js";

const ENTRIES = Number(process.env.BENCH_READ_ENTRIES ?? 1_000_000);
const SAMPLES = Number(process.env.BENCH_READ_SAMPLES ?? 300);
const COUNTERPARTIES = 1_000;
const CHUNK = 50_000;
/** Seeded payments carry {"shop": "shop-<g % SHOPS>", "order": "o-<g>"}: one shop is 1% of them. */
const SHOPS = 100;
/** Amounts spread over 1..AMOUNTS minor units: a range of AMOUNTS / 100 holds 1% of the payments. */
const AMOUNTS = 100_000;
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

    // Payments alternate direction between the hot account and one of the counterparties. Their
    // entries are inserted in SQL with what ledger_apply would give them (positions, line numbers and
    // running balances continuing from each account's balance row), except a real hash chain: reads
    // never depend on it (this database is not verified). Every tenth payment is marked DECLINED for
    // the status search but keeps its entries, so that payment g stays the hot account's line g.
    log(`writing ${ENTRIES} entries on the hot account (${2 * ENTRIES} entries in all)`);
    const t0 = Date.now();
    const writeStart = process.hrtime.bigint();
    for (let from = 1; from <= ENTRIES; from += CHUNK) {
      const to = Math.min(ENTRIES, from + CHUNK - 1);
      await db.execute(sql`
        insert into payments (id, payer_account_id, payee_account_id, amount_cents, currency, status, decline_reason, created_at, metadata)
        select 'B' || lpad(g::text, 25, '0'),
               case when g % 2 = 0 then 'hot' else 'cp' || (g % ${COUNTERPARTIES}) end,
               case when g % 2 = 0 then 'cp' || (g % ${COUNTERPARTIES}) else 'hot' end,
               1 + (g::bigint * 7919) % ${AMOUNTS}, 'USD',
               case when g % 10 = 0 then 'DECLINED' else 'AUTHORIZED' end, case when g % 10 = 0 then 'INSUFFICIENT_FUNDS' end,
               to_timestamp(${t0 / 1000}::float8) + g * interval '1 ms',
               jsonb_build_object('shop', 'shop-' || (g % ${SHOPS}), 'order', 'o-' || g)
        from generate_series(${from}::int, ${to}::int) g`);
      const range = sql`p.id between ${"B" + String(from).padStart(25, "0")} and ${"B" + String(to).padStart(25, "0")}`;
      await db.execute(sql`
        insert into ledger_entries (transfer_id, account_id, amount_cents, currency, created_at, account_seq, line_seq,
                                    balance_after_cents, held_after_cents, entry_hash)
        select p.id, x.account_id, x.amount, 'USD', p.created_at, b.entry_seq + row_number() over w, b.line_seq + row_number() over w,
               b.available_cents + b.held_cents + sum(x.amount) over w, b.held_cents, md5(p.id || x.account_id)
        from payments p, lateral (values (p.payer_account_id, -p.amount_cents), (p.payee_account_id, p.amount_cents)) x(account_id, amount),
             balances b
        where ${range} and b.account_id = x.account_id
        window w as (partition by x.account_id order by p.id)
        order by p.id`);
      await db.execute(sql`
        update balances b set available_cents = b.available_cents + c.total, entry_seq = b.entry_seq + c.n, line_seq = b.line_seq + c.n,
               version = b.version + c.n
        from (select x.account_id, sum(x.amount) as total, count(*) as n
                from payments p, lateral (values (p.payer_account_id, -p.amount_cents), (p.payee_account_id, p.amount_cents)) x(account_id, amount)
               where ${range} group by x.account_id) c
        where c.account_id = b.account_id`);
      log(`  ${to} payments`);
    }
    const writeSeconds = Number(process.hrtime.bigint() - writeStart) / 1e9;
    await db.execute(sql`analyze`);
    const head = (await ledger.getBalance(hot)).entrySequence;
    log(`hot account has ${head} entries; wrote ${(2 * ENTRIES / writeSeconds).toFixed(0)} entries/s`);

    const random = (max: bigint) => BigInt(Math.floor(Math.random() * Number(max)));
    const results: Record<string, number[]> = {
      statementOldestFirst: [], statementNewestFirst: [], paymentsPage: [], balanceAsOf: [], statementFirstPage: [], paymentsFirstPage: [],
      searchMetadata1pct: [], searchMetadataDeep: [], searchMetadataOne: [], searchStatusMinute: [], searchAmount1pct: [],
    };
    const found: Record<string, number> = {};
    const count = (name: string, n: number) => (found[name] = (found[name] ?? 0) + n);
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

      // Search over every payment (no account filter): first pages, and one deep page.
      const shop = { shop: `shop-${g % SHOPS}` };
      const all = { accountId: "", statuses: [], pageSize: 50, pageToken: "" };
      count("searchMetadata1pct", (await timed(results.searchMetadata1pct!, () => ledger.listPayments({ ...all, metadata: shop }))).items.length);
      const deep = { a: "", s: [], f: undefined, t: undefined, m: canonicalMetadata(shop) };
      count("searchMetadataDeep", (await timed(results.searchMetadataDeep!, () =>
        ledger.listPayments({ ...all, metadata: shop, pageToken: encodePageToken(deep, [micros, "B" + String(g).padStart(25, "0")]) }))).items.length);
      count("searchMetadataOne", (await timed(results.searchMetadataOne!, () => ledger.listPayments({ ...all, metadata: { order: `o-${g}` } }))).items.length);
      const minute = { createdAfter: new Date(t0 + g), createdBefore: new Date(t0 + g + 60_000) };
      count("searchStatusMinute", (await timed(results.searchStatusMinute!, () =>
        ledger.listPayments({ ...all, statuses: ["DECLINED" as const], ...minute }))).items.length);
      const low = BigInt(1 + (g % (AMOUNTS - AMOUNTS / 100)));
      count("searchAmount1pct", (await timed(results.searchAmount1pct!, () =>
        ledger.listPayments({ ...all, minAmountCents: low, maxAmountCents: low + BigInt(AMOUNTS / 100) - 1n }))).items.length);
    }
    const lines = Object.entries(results).map(([name, samples]) =>
      `${name.padEnd(22)} ${fmt(latencySummary(samples))}${found[name] !== undefined ? `, ${(found[name] / SAMPLES).toFixed(1)} rows per page` : ""}`);

    lines.push(`seed write rate (set-based SQL inserts): ${(2 * ENTRIES / writeSeconds).toFixed(0)} entries/s`);
    console.log(`read side, hot account with ${head} entries, ${SAMPLES} samples each (in-process, 50 rows per page), load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    for (const line of lines) console.log(line);
  } finally {
    await handle.close();
    postgres.stop();
  }
}

await main();
