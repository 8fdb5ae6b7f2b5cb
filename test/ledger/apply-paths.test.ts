/**
 * ledger_apply has two paths for authorization batches (src/ledger/sql/30-ledger-apply.sql): the
 * set-based one (25-ledger-apply-authorizations.sql) from 8 items up, and the per-item loop below
 * that or when `ledger.per_item_path` is on. They must be indistinguishable: the same batch on two
 * identical account sets gives the same outcomes, balances, statements and events on both.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import postgres from "postgres";
import { ulid } from "../../src/ids/ulid.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { assertLedgerInvariants } from "../support/invariants.js";

let database: TestDatabase;
let sql: postgres.Sql;
const ctx = { clientId: "paths" };

before(async () => {
  database = await createTestDatabase(5);
  sql = postgres(database.url, { max: 1, onnotice: () => {} });
});
after(async () => {
  await sql.end();
  await database.drop();
});

/** Ids are ULIDs (as the events' schemas want); each run names its own, and they are named back for comparing. */
const names = new Map<string, string>();
function id(tag: string, label: string): string {
  const key = `${tag}/${label}`;
  let value = [...names.entries()].find(([, name]) => name === key)?.[0];
  if (!value) names.set((value = ulid()), key);
  return value;
}

/** Four accounts (a funded EUR payer, an EUR payee, a USD account, a closed EUR account) whose ids start with `tag`. */
async function accountsFor(tag: string): Promise<Record<"payer" | "payee" | "usd" | "closed", string>> {
  const ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
  const open = async (name: string, currency: string) =>
    (await ledger.createAccount({ accountId: id(tag, name), currency, displayName: `${tag} ${name}` }, ctx)).accountId;
  const ids = { payer: await open("payer", "EUR"), payee: await open("payee", "EUR"), usd: await open("usd", "USD"), closed: await open("closed", "EUR") };
  await ledger.depositFunds({ idempotencyKey: `${tag}-seed`, accountId: ids.payer, amountCents: 1_000n, currency: "EUR" }, ctx);
  await ledger.closeAccount({ accountId: ids.closed, idempotencyKey: `${tag}-close` }, ctx);
  return ids;
}

/** One authorize item in the form src/ledger/commands.ts sends; `key` names the key, payment and event. */
function item(tag: string, key: string, payer: string, payee: string, amount: number, extra: Record<string, unknown> = {}) {
  return {
    kind: "authorize", clientId: ctx.clientId, key: `${tag}-${key}`, method: "AuthorizePayment", requestHash: `hash-${key}-${amount}`,
    paymentId: id(tag, `pay-${key}`), payerAccountId: payer, payeeAccountId: payee, amountCents: String(amount), currency: "EUR",
    description: key, captureMethod: "AUTOMATIC", holdExpiresAt: null, at: "2026-11-23T10:00:00.000Z", eventId: id(tag, `ev-${key}`),
    traceparent: null, ...extra,
  };
}

/** A batch exercising every kind of outcome, for the accounts of `tag`. */
function batchFor(tag: string, a: Record<"payer" | "payee" | "usd" | "closed", string>) {
  const hold = { captureMethod: "MANUAL", holdExpiresAt: "2026-11-30T10:00:00.000Z" };
  return [
    item(tag, "first", a.payer, a.payee, 100, { metadata: { order: "o-1", shop: "s" } }),
    item(tag, "to-closed", a.payer, a.closed, 10), // refused: ACCOUNT_CLOSED (payee)
    item(tag, "from-closed", a.closed, a.payer, 10, { metadata: { x: "y" } }), // refused: ACCOUNT_CLOSED (payer)
    item(tag, "live", a.payer, a.payee, 50), // its key was used by an earlier call: replayed
    item(tag, "hold", a.payer, a.payee, 300, hold),
    item(tag, "first", a.payer, a.payee, 100), // same key earlier in this batch: replays it
    item(tag, "no-payer", id(tag, "missing"), a.payee, 10),
    item(tag, "no-payee", a.payer, id(tag, "missing"), 10),
    item(tag, "currency", a.payer, a.usd, 10), // declined: CURRENCY_MISMATCH
    item(tag, "too-much", a.payer, a.payee, 600), // declined: 1,000 - 50 - 100 - 300 leaves 550
    item(tag, "rest", a.payer, a.payee, 550),
    item(tag, "empty", a.payer, a.payee, 1), // declined: nothing left
    item(tag, "back", a.payee, a.payer, 20),
  ];
}

/** Applies `items` on the path asked for; also says whether the set-based function ran (pg_stat_xact_user_functions). */
async function apply(items: object[], perItem: boolean): Promise<{ outcomes: unknown[]; setPath: boolean }> {
  return sql.begin(async (tx) => {
    await tx`select set_config('ledger.per_item_path', ${perItem ? "on" : "off"}, true), set_config('track_functions', 'pl', true)`;
    // The view counts calls not yet flushed to the statistics, earlier transactions' too: compare.
    const setPathCalls = async () =>
      (await tx<{ n: number }[]>`select coalesce(sum(calls), 0)::int as n from pg_stat_xact_user_functions where funcname = 'ledger_apply_authorizations'`)[0]!.n;
    const before = await setPathCalls();
    const [row] = await tx<{ outcomes: unknown[] }[]>`select ledger_apply(${JSON.stringify(items)}::text::jsonb, 24) as outcomes`;
    return { outcomes: row!.outcomes, setPath: (await setPathCalls()) > before };
  }) as Promise<{ outcomes: unknown[]; setPath: boolean }>;
}

/** Everything a run left behind for the accounts `a`, every id of the run replaced by its name. */
async function stateOf(tag: string, a: Record<string, string>, outcomes: unknown[]) {
  const untag = (value: unknown) => {
    let text = JSON.stringify(value);
    for (const [ulidValue, name] of names) if (name.startsWith(`${tag}/`)) text = text.replaceAll(ulidValue, name.slice(tag.length + 1));
    // The closed account's closing time differs between runs (it is in ACCOUNT_CLOSED's message).
    return JSON.parse(text.replaceAll(`${tag}-`, "T-").replace(/closed at [0-9T:.Z-]+/g, "closed at <time>"));
  };
  const accounts = Object.values(a);
  // The heads kept on the balance row (12-ledger-lines.sql), but the hash: it covers ids that differ between runs.
  const balances = await sql`select account_id, available_cents::text, held_cents::text, version::text, entry_seq::text, line_seq::text,
      payment_seq::text from balances where account_id in ${sql(accounts)} order by account_id`;
  // The seed deposit's id is random; every other entry's transfer is a payment of the batch.
  const entries = await sql`select account_id, transfer_id, amount_cents::text, account_seq::text, balance_after_cents::text,
      line_seq::text, held_after_cents::text from ledger_entries where account_id in ${sql(accounts)} and transfer_id in (select id from payments) order by account_id, account_seq`;
  const holds = await sql`select account_id, payment_id, kind, amount_cents::text, line_seq::text, ledger_after_cents::text,
      held_after_cents::text from hold_movements
    where account_id in ${sql(accounts)} order by account_id, id`;
  const events = await sql`select event_id, event_type, aggregate_id, envelope from outbox where aggregate_type = 'payment' and envelope->'payload'->>'payerAccountId' in ${sql(accounts)} order by id`;
  const transitions = await sql`select payment_id, status, amount_cents::text, payer_seq::text, payee_seq::text from payment_transitions
    where payer_account_id in ${sql(accounts)} order by id`;
  const payments = await sql`select id, status, amount_cents::text, metadata from payments where payer_account_id in ${sql(accounts)} order by id`;
  const state = untag({ outcomes, balances, entries, holds, events, transitions, payments });
  state.payments.sort((x: { id: string }, y: { id: string }) => x.id.localeCompare(y.id));
  return state;
}

it("gives the same outcomes, balances, entries, holds, transitions and events on the set path and the per-item loop", async () => {
  const runs = [];
  for (const [tag, perItem] of [["set", false], ["loop", true]] as const) {
    const a = await accountsFor(tag);
    await apply([item(tag, "live", a.payer, a.payee, 50)], perItem);
    const { setPath: smallOnSetPath } = await apply([item(tag, "small", a.payee, a.payer, 100_000)], false); // declined: moves nothing
    assert.equal(smallOnSetPath, false, "a batch under 8 items takes the loop");
    const { outcomes, setPath } = await apply(batchFor(tag, a), perItem);
    assert.equal(setPath, !perItem, `the ${tag} run took the ${tag} path`);
    runs.push(await stateOf(tag, a, outcomes));
  }
  const [set, loop] = runs;
  assert.deepEqual(set, loop);
  // And the batch did what it says (so that two equally wrong paths cannot pass).
  const kinds = (set.outcomes as Record<string, unknown>[]).map((o) =>
    "error" in o ? (o.error as { code: string }).code : o.replayed ? "replayed" : (o.result as { status: string }).status);
  assert.deepEqual(kinds, [
    "AUTHORIZED", "ACCOUNT_CLOSED", "ACCOUNT_CLOSED", "replayed", "REQUIRES_CAPTURE", "replayed", "ACCOUNT_NOT_FOUND", "ACCOUNT_NOT_FOUND",
    "DECLINED", "DECLINED", "AUTHORIZED", "DECLINED", "AUTHORIZED",
  ]);
  await assertLedgerInvariants(database.handle.db);
});
