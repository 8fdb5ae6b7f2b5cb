/**
 * A page of ListPayments over the whole ledger costs in proportion to the page, not to the ledger,
 * with or without a status filter: the query walks payments in time order and stops once the page
 * is full, probing each one's state (src/ledger/history.ts). Rows read are counted as in
 * sql-plans.test.ts, in the query's own transaction (test/support/table-reads.ts). The ledger is
 * large enough that reading a table whole is not the cheapest plan (on a table of a few pages it
 * is, and PostgreSQL rightly reads it): 50,000 payments, one in ten a hold (REQUIRES_CAPTURE),
 * 1,000 accounts, and fresh statistics, as a ledger in service has. With the state joined rather
 * than probed, a page of either status read all 50,000 payments and states.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { sql } from "drizzle-orm";
import type { Database } from "../../src/db/client.js";
import { listPayments, type ListPaymentsQuery } from "../../src/ledger/history.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { createFunctionDatabase, type FunctionDatabase } from "../support/function-database.js";
import { readsBetween, TABLE_READS_QUERY, tableReads } from "../support/table-reads.js";

const ctx = { clientId: "history-plans" };
/**
 * A page of 200: the planner weighs walking in time order against reading everything by the rows a
 * page needs (with the status joined, a page of 50 over these rows was planned either way by a
 * small margin of cost; a page of 200 was read from every row).
 */
const PAGE = 200;
const PAYMENTS = 50_000;
const ACCOUNTS = 1_000;
let fixture: FunctionDatabase;
let db: Database;
const payer = "plans-1";

before(async () => {
  fixture = await createFunctionDatabase("plans-", ACCOUNTS);
  db = fixture.database.handle.db;
  const ledger = new Ledger(db, { idempotencyTtlHours: 24 });
  const commands = Array.from({ length: PAYMENTS }, (_, i) => ({
    // Every fifth payment is paid by `payer`, so that its own pages are full too.
    idempotencyKey: `plans-${i}`, payerAccountId: i % 5 === 0 ? payer : `plans-${2 + (i % (ACCOUNTS - 1))}`, payeeAccountId: `plans-${2 + ((i + 1) % (ACCOUNTS - 1))}`,
    amountCents: 1n, currency: "EUR", description: "", ...(i % 10 === 0 ? { captureMethod: "MANUAL" as const } : {}),
  }));
  for (let i = 0; i < commands.length; i += 1_000) await ledger.authorizePayments(commands.slice(i, i + 1_000), ctx);
  await db.execute(sql`analyze`);
});
after(() => fixture.close());

/** Rows read per table (sequentially or through an index) by `run`, in one transaction. */
async function rowsRead(run: (db: Database) => Promise<unknown>): Promise<Record<string, number>> {
  return db.transaction(async (tx) => {
    const reading = async () => tableReads((await tx.execute(sql.raw(TABLE_READS_QUERY))) as unknown as unknown[]);
    const before = await reading();
    await run(tx as unknown as Database);
    return Object.fromEntries([...readsBetween(before, await reading())].map(([name, count]) => [name, count.rows]));
  });
}

const query = (filters: Partial<ListPaymentsQuery>): ListPaymentsQuery => ({ accountId: "", statuses: [], pageSize: PAGE, pageToken: "", ...filters });

/**
 * The tables that grow with the payments (payments, their states and split legs) a page read more
 * than `limit` rows of. (Accounts are left out: whether the tenant check probes each payer or reads
 * the accounts once is the planner's choice by the number of accounts, not of payments.)
 */
async function overRead(filters: Partial<ListPaymentsQuery>, limit: number) {
  let items = 0;
  const read = await rowsRead(async (db) => {
    items = (await listPayments(db, query(filters))).items.length;
  });
  assert.equal(items, PAGE, `a full page for ${JSON.stringify(filters)}`);
  return Object.entries(read).filter(([name, n]) => name.startsWith("payment") && n > limit).map(([name, n]) => `${name}: ${n}`);
}

it("the counting sees a whole table read", async () => {
  const read = await rowsRead((db) => db.execute(sql`select count(*) from payments where description = ''`));
  assert.ok((read.payments ?? 0) >= PAYMENTS, JSON.stringify(read));
});

// A common status is found within a few rows of the walk, a rare one (a hold is one payment in ten)
// within about ten times the page; either way far from the whole ledger. One account's page walks
// that account's payments (here a fifth of the ledger) at most.
const OWN = PAYMENTS / 5 + 4 * PAGE;
for (const [statuses, limit] of [[["AUTHORIZED"], 4 * PAGE], [["REQUIRES_CAPTURE"], 30 * PAGE]] as const) {
  it(`ListPayments of status ${statuses.join(",")}: a page reads at most ${limit} rows of a payments table, one account's at most its own`, async () => {
    assert.deepEqual(await overRead({ statuses: [...statuses] }, limit), []);
    assert.deepEqual(await overRead({ statuses: [...statuses], accountId: payer }, OWN), []);
  });
}

it("ListPayments without filters: a page reads at most a few rows per payment listed", async () => {
  assert.deepEqual(await overRead({}, 4 * PAGE), []);
  // A batch's payments share one time, and the account index orders by time alone: a page reads
  // whole batches of the account's payments to order them by id.
  assert.deepEqual(await overRead({ accountId: payer }, OWN), []);
});

it("the service's sessions run without JIT compilation", async () => {
  const [row] = (await db.execute(sql`select current_setting('jit') as jit`)) as unknown as { jit: string }[];
  assert.equal(row!.jit, "off");
});
