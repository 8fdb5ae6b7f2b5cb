/**
 * ledger_apply has two paths for authorization batches (src/ledger/sql/30-ledger-apply.sql): the
 * set-based one (25-ledger-apply-authorizations.sql) from 4 items up, and the per-item loop below
 * that or when `ledger.per_item_path` is on. They must be indistinguishable: the same batch on two
 * identical account sets gives the same outcomes, balances, statements and events on both.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, it } from "node:test";
import postgres from "postgres";
import { ulid } from "../../src/ids/ulid.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { assertLedgerInvariants } from "../support/invariants.js";
import { until } from "../support/until.js";

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

/**
 * Applies `items` on the path asked for, on `connection` (the test's own by default); also says
 * whether the set-based function ran (pg_stat_xact_user_functions).
 */
async function apply(items: object[], perItem: boolean, connection = sql): Promise<{ outcomes: unknown[]; setPath: boolean }> {
  return connection.begin(async (tx) => {
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
    assert.equal(smallOnSetPath, false, "a batch of one takes the loop");
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

// A key is written once, with its result, after its command (both paths). The same key sent at
// once in two transactions over disjoint accounts (so no balance lock orders them) meets on the
// key's unique index: the later insert waits for the earlier transaction and, when that commits,
// fails with a serialization failure (nothing of its batch is kept); the caller's retry
// (src/ledger/transient-retry.ts) answers the item as a replay.
for (const perItem of [true, false]) {
  const path = perItem ? "loop" : "set";
  it(`on the ${path} path, a key committed by another transaction meanwhile rolls the batch back (40001); the retry replays it`, async () => {
    const [a, b] = [await accountsFor(`${path}-race-a`), await accountsFor(`${path}-race-b`)];
    const tag = `${path}-race`;
    const first = item(tag, "k", a.payer, a.payee, 10);
    // The set path takes batches of 4 or more: three more items of their own keys beside the raced one.
    const others = perItem ? [] : ["x", "y", "z"].map((key) => item(tag, key, b.payer, b.payee, 1));
    // The same request sent again: the service names a new payment and event for each request it receives.
    const again = { ...first, payerAccountId: b.payer, payeeAccountId: b.payee, paymentId: id(tag, "pay-k-again"), eventId: id(tag, "ev-k-again") };
    const second = [again, ...others];
    const [one, two] = [postgres(database.url, { max: 1, onnotice: () => {} }), postgres(database.url, { max: 1, onnotice: () => {} })];
    try {
      const holder = await one.reserve();
      await holder`begin`;
      const [held] = await holder<{ outcomes: { result: { paymentId: string } }[] }[]>`select ledger_apply(${JSON.stringify([first])}::text::jsonb, 24) as outcomes`;
      const racing = apply(second, perItem, two);
      racing.catch(() => undefined);
      await until("the second transaction waiting for the first's key", async () =>
        (await sql`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%ledger_apply%'`).length > 0);
      await holder`commit`;
      holder.release();
      await assert.rejects(racing, (error: { code?: string }) => error.code === "40001");
      const available = async (account: string) => (await sql`select available_cents::text as c from balances where account_id = ${account}`)[0]!.c;
      assert.deepEqual([await available(b.payer), await available(b.payee)], ["1000", "0"], "nothing of the rolled-back batch kept");
      const retried = (await apply(second, perItem, two)).outcomes as Record<string, unknown>[];
      assert.deepEqual(retried[0], { replayed: true, result: held!.outcomes[0]!.result });
      assert.deepEqual(retried.slice(1).map((o) => (o.result as { status: string }).status), others.map(() => "AUTHORIZED"));
      const [keys] = await sql<{ n: number }[]>`select count(*)::int as n from idempotency_keys where key = ${first.key}`;
      assert.equal(keys!.n, 1);
      assert.equal((await sql`select 1 from payments where id = ${again.paymentId}`).length, 0, "the raced payment was not made twice");
    } finally {
      await one.end();
      await two.end();
    }
  });
}

// Deposits, payouts, captures, voids, expiries and refunds: the set path ledger_apply_moves
// (26-ledger-apply-moves.sql) against the loop. Each path runs on a fresh database of its own,
// after the same history, so even the ids from sequences and the chain hashes must match.

const at = "2026-11-23T10:00:00.000Z";
/** A ULID-shaped id (the events' schemas want them) that is the same in both databases. */
const ulidOf = (name: string) =>
  [...createHash("sha256").update(name).digest()].slice(0, 26).map((b) => "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[b % 32]).join("").replace(/^./, "0");
const later = "2026-11-24T10:00:00.000Z";
const keyed = (kind: string, key: string, fields: Record<string, unknown>, hash = key) => ({
  kind, clientId: ctx.clientId, key, method: kind, requestHash: `hash-${hash}`, at, eventId: ulidOf(key), traceparent: null, ...fields,
});
const open = (accountId: string, currency = "EUR", funding = "false") =>
  ({ kind: "open", accountId, currency, displayName: accountId, funding, at, eventId: ulidOf(`open-${accountId}`), traceparent: null });
const deposit = (key: string, accountId: string, amount: number, extra: Record<string, unknown> = {}, hash = key) =>
  keyed("deposit", key, { depositId: ulidOf(`dep-${key}`), accountId, amountCents: String(amount), currency: "EUR", fundingAccountId: "fund", ...extra }, hash);
const withdraw = (key: string, accountId: string, amount: number, extra: Record<string, unknown> = {}) =>
  keyed("withdraw", key, { withdrawalId: ulidOf(`wd-${key}`), accountId, amountCents: String(amount), currency: "EUR", reference: `ref ${key}`, fundingAccountId: "fund", ...extra });
const pay = (key: string, payer: string, payee: string, amount: number, manual = false, extra: Record<string, unknown> = {}) =>
  keyed("authorize", key, {
    paymentId: ulidOf(`pay-${key}`), payerAccountId: payer, payeeAccountId: payee, amountCents: String(amount), currency: "EUR", description: key,
    captureMethod: manual ? "MANUAL" : "AUTOMATIC", holdExpiresAt: manual ? "2026-11-23T12:00:00.000Z" : null, metadata: { order: key }, ...extra,
  });
const capture = (key: string, paymentId: string, amount: number) => keyed("capture", key, { paymentId: ulidOf(`pay-${paymentId}`), amountCents: String(amount) });
const release = (key: string, paymentId: string) => keyed("void", key, { paymentId: ulidOf(`pay-${paymentId}`) });
const expire = (paymentId: string, when = later) => ({ kind: "expire", paymentId: ulidOf(`pay-${paymentId}`), at: when, eventId: ulidOf(`expire-${paymentId}-${when}`), traceparent: null });
const refund = (key: string, paymentId: string, amount: number) =>
  keyed("refund", key, { refundId: ulidOf(`rf-${key}`), paymentId: ulidOf(`pay-${paymentId}`), amountCents: String(amount), reason: `reason ${key}`, metadata: { r: key } });

/** The history both databases start from: accounts, funds, open holds, payments to refund. */
const history: object[][] = [
  [open("fund", "EUR", "true"), open("payer"), open("payee"), open("poor"), open("usd", "USD"), open("closed")],
  [deposit("seed", "payer", 10_000), deposit("seed-poor", "poor", 100), deposit("live", "payee", 5)],
  [pay("hold-full", "payer", "payee", 200, true), pay("hold-part", "payer", "payee", 100, true), pay("hold-void", "payer", "payee", 50, true),
   pay("hold-old", "payer", "payee", 30, true), pay("auto", "payer", "payee", 300), pay("declined", "payer", "payee", 1_000_000),
   pay("to-poor", "payer", "poor", 100), pay("split", "payer", "", 60, true, { splits: [{ payeeAccountId: "payee", amountCents: "40" }, { payeeAccountId: "poor", amountCents: "20" }] })],
  [withdraw("drain", "poor", 200), keyed("close", "close", { accountId: "closed" })],
];

/** Every kind of outcome of every kind the set path takes, in one batch. */
const moves = [
  deposit("dep", "payer", 500, { metadata: { shop: "s" } }),
  deposit("to-closed", "closed", 10), // ACCOUNT_CLOSED
  deposit("reused-after-error", "nobody", 10), // ACCOUNT_NOT_FOUND: the key is given back...
  deposit("reused-after-error", "payee", 10), // ...so this one claims it and runs
  deposit("currency", "usd", 10), // CURRENCY_MISMATCH
  deposit("live", "payee", 5), // its key was used by an earlier call: replayed
  deposit("dep", "payer", 500, { metadata: { shop: "s" } }), // same key earlier in this batch: replays it
  deposit("dep", "payer", 7, {}, "other"), // same key, another request: IDEMPOTENCY_KEY_REUSED
  withdraw("wd", "payer", 200, { metadata: { m: "1" } }),
  withdraw("wd-declined", "poor", 1_000), // DECLINED: INSUFFICIENT_FUNDS, recorded
  withdraw("wd-closed", "closed", 1), // ACCOUNT_CLOSED
  capture("cap-full", "hold-full", 0), // the whole hold
  capture("cap-part", "hold-part", 40), // 40 of 100, the rest released
  capture("cap-again", "hold-full", 10), // INVALID_PAYMENT_STATE: captured above
  capture("cap-excess", "hold-void", 51), // CAPTURE_EXCEEDS_HOLD
  release("void", "hold-void"),
  release("void-again", "hold-void"), // INVALID_PAYMENT_STATE
  capture("cap-missing", "no-such-payment", 1), // PAYMENT_NOT_FOUND
  expire("hold-old"), // past its expiry: released
  expire("hold-full"), // INVALID_PAYMENT_STATE: no expired open hold
  refund("rf-1", "auto", 100),
  refund("rf-over", "auto", 250), // REFUND_EXCEEDS_CAPTURED (200 left)
  refund("rf-2", "auto", 200),
  refund("rf-declined-payment", "declined", 1), // INVALID_PAYMENT_STATE: a declined payment
  refund("rf-poor", "to-poor", 50), // DECLINED: the payee has nothing left
  refund("rf-part", "hold-part", 40), // refunds what this batch captured
  refund("rf-missing", "no-such-payment", 1), // PAYMENT_NOT_FOUND
  withdraw("wd-2", "payer", 10_000), // DECLINED after the moves above
  deposit("dep-poor", "poor", 1),
];

/** Applies `batches` on `url`, the last on the path asked for; the outcomes of every batch and whether the set function ran. */
async function applyAll(url: string, batches: object[][], perItem: boolean) {
  const db = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const results: { outcomes: unknown; setPath: boolean }[] = [];
    for (const [n, items] of batches.entries()) {
      const last = n === batches.length - 1;
      results.push(await db.begin(async (tx) => {
        await tx`select set_config('ledger.per_item_path', ${last && !perItem ? "off" : "on"}, true), set_config('track_functions', 'pl', true)`;
        // The set path ran when ledger_apply_moves did and no per-item command function (it answers NULL for split payments).
        const calls = async () =>
          (await tx<{ moves: number; items: number }[]>`select coalesce(sum(calls) filter (where funcname = 'ledger_apply_moves'), 0)::int as moves,
              coalesce(sum(calls) filter (where funcname like 'ledger\_cmd\_%'), 0)::int as items from pg_stat_xact_user_functions`)[0]!;
        const before = await calls();
        const [row] = await tx<{ outcomes: unknown }[]>`select ledger_apply(${JSON.stringify(items)}::text::jsonb, 24) as outcomes`;
        const after = await calls();
        return { outcomes: row!.outcomes, setPath: after.moves > before.moves && after.items === before.items };
      }) as { outcomes: unknown; setPath: boolean });
    }
    return results;
  } finally {
    await db.end();
  }
}

/** Every row of the money tables (whole rows, ids and hashes included), but the times the database chose (now()). */
async function everything(url: string) {
  const db = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const all = async (table: string, order = "id") => db.unsafe(`select * from ${table} order by ${order}`);
    const text = (rows: object[]) => JSON.parse(JSON.stringify(rows, (_, v) => (typeof v === "bigint" ? String(v) : v)));
    return text([
      await all("balances", "account_id"), await all("ledger_entries"), await all("hold_movements"), await all("payments"),
      await all("payment_states", "payment_id"), await all("payment_transitions"), await all("payment_splits", "payment_id, position"),
      await all("payment_split_steps", "transition_id, payee_account_id"), await all("deposits"), await all("withdrawals"), await all("refunds"),
      await db`select id, event_id, event_type, aggregate_type, aggregate_id, envelope, traceparent from outbox order by id`,
      await db`select client_id, key, method, request_hash, result from idempotency_keys order by client_id, key`,
    ].map((rows) => [...rows]));
  } finally {
    await db.end();
  }
}

/**
 * Runs the history and then `batch` on two fresh databases, set path and loop, checks that both
 * left the same outcomes and rows, and returns what each item of `batch` came to.
 */
async function onBothPaths(batch: object[], mine: TestDatabase, other: TestDatabase): Promise<string[]> {
  const set = await applyAll(mine.url, [...history, batch], false);
  const loop = await applyAll(other.url, [...history, batch], true);
  assert.equal(set.at(-1)!.setPath, true, "the set run took ledger_apply_moves");
  assert.equal(loop.at(-1)!.setPath, false, "the loop run did not");
  assert.deepEqual(set.map((r) => r.outcomes), loop.map((r) => r.outcomes));
  assert.deepEqual(await everything(mine.url), await everything(other.url));
  return (set.at(-1)!.outcomes as Record<string, unknown>[]).map((o) =>
    "error" in o ? (o.error as { code: string }).code : o.replayed ? "replayed" : ((o.result as { status?: string }).status ?? "done"));
}

it("gives the same rows on the set path for deposits, payouts, captures, voids, expiries and refunds as on the loop", async () => {
  const [mine, other] = [await createTestDatabase(2), await createTestDatabase(2)];
  try {
    assert.deepEqual(await onBothPaths(moves, mine, other), [
      "done", "ACCOUNT_CLOSED", "ACCOUNT_NOT_FOUND", "done", "CURRENCY_MISMATCH", "replayed", "replayed", "IDEMPOTENCY_KEY_REUSED",
      "WITHDRAWN", "DECLINED", "ACCOUNT_CLOSED",
      "CAPTURED", "CAPTURED", "INVALID_PAYMENT_STATE", "CAPTURE_EXCEEDS_HOLD", "VOIDED", "INVALID_PAYMENT_STATE", "PAYMENT_NOT_FOUND",
      "EXPIRED", "INVALID_PAYMENT_STATE",
      "REFUNDED", "REFUND_EXCEEDS_CAPTURED", "REFUNDED", "INVALID_PAYMENT_STATE", "DECLINED", "REFUNDED", "PAYMENT_NOT_FOUND",
      "DECLINED", "done",
    ]);
    // A batch acting on a split payment falls back to the loop (ledger_apply_moves answers NULL): same rows again.
    const splitBatch = [capture("cap-split", "split", 30), ...Array.from({ length: 7 }, (_, n) => deposit(`more-${n}`, "payee", 1 + n))];
    const [setSplit] = await applyAll(mine.url, [splitBatch], false);
    const [loopSplit] = await applyAll(other.url, [splitBatch], true);
    assert.deepEqual(setSplit!.outcomes, loopSplit!.outcomes);
    assert.equal((setSplit!.outcomes as { result: { status: string } }[])[0]!.result.status, "CAPTURED");
    assert.deepEqual(await everything(mine.url), await everything(other.url));
    await assertLedgerInvariants(mine.handle.db);
    await assertLedgerInvariants(other.handle.db);
  } finally {
    await mine.drop();
    await other.drop();
  }
});

it("gives the same rows on the set path for a batch mixing authorizations with the other kinds as on the loop", async () => {
  const mixed = [
    pay("m-hold", "payer", "payee", 70, true),
    capture("m-cap", "m-hold", 20), // partial capture of a hold placed by this batch
    pay("m-auto", "payer", "payee", 40),
    refund("m-rf", "m-auto", 15), // refund of a payment made by this batch
    pay("m-declined", "poor", "payee", 5_000), // DECLINED: poor has nothing
    refund("m-rf-declined", "m-declined", 1), // INVALID_PAYMENT_STATE: a payment this batch declined
    pay("m-closed", "payer", "closed", 5), // ACCOUNT_CLOSED
    pay("m-nobody", "nobody", "payee", 5), // ACCOUNT_NOT_FOUND
    pay("m-auto", "payer", "payee", 40), // replays the item above
    deposit("m-dep", "poor", 30),
    pay("m-poor", "poor", "payer", 25), // funded by the deposit just before
    pay("m-hold2", "payer", "payee", 10, true),
    release("m-void", "m-hold2"),
    capture("m-cap-old", "hold-full", 0), // a hold from the history
    withdraw("m-wd", "payee", 10),
    pay("m-currency", "payer", "usd", 5), // DECLINED: CURRENCY_MISMATCH
  ];
  const [mine, other] = [await createTestDatabase(2), await createTestDatabase(2)];
  try {
    assert.deepEqual(await onBothPaths(mixed, mine, other), [
      "REQUIRES_CAPTURE", "CAPTURED", "AUTHORIZED", "REFUNDED", "DECLINED", "INVALID_PAYMENT_STATE", "ACCOUNT_CLOSED", "ACCOUNT_NOT_FOUND",
      "replayed", "done", "AUTHORIZED", "REQUIRES_CAPTURE", "VOIDED", "CAPTURED", "WITHDRAWN", "DECLINED",
    ]);
    await assertLedgerInvariants(mine.handle.db);
  } finally {
    await mine.drop();
    await other.drop();
  }
});
