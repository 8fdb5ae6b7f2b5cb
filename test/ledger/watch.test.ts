/**
 * Statement lines are ordered by the account's line sequence (commit order under its lock), never
 * by a clock: a line committed after a watcher's position but stamped earlier (an instance whose
 * clock runs behind) still reaches the resumed watcher, and the statement shows it last. Lines of
 * a set-based batch that mixes holds and automatic payments on one account chain exactly.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { sql } from "drizzle-orm";
import { ulid } from "../../src/ids/ulid.js";
import { Ledger } from "../../src/ledger/ledger.js";
import type { AccountChange } from "../../src/ledger/watch.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

const ctx = { clientId: "watch-order" };
let database: TestDatabase;
let ledger: Ledger;
let keySeq = 0;
const key = () => `wo-${++keySeq}`;

before(async () => {
  database = await createTestDatabase(5);
  ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
});
after(() => database.drop());

async function account(displayName: string): Promise<string> {
  return (await ledger.createAccount({ currency: "USD", displayName, accountId: "" }, ctx)).accountId;
}

/** The next message of a watch, within 10 s. */
async function next(watch: AsyncGenerator<AccountChange>): Promise<AccountChange> {
  const result = await Promise.race([watch.next(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no message within 10 s")), 10_000))]);
  assert.equal(result.done, false);
  return result.value as AccountChange;
}

it("resumes a watch with a line committed later but stamped earlier than its position (clock skew between instances)", async () => {
  const payer = await account("payer");
  const payee = await account("payee");
  await ledger.depositFunds({ idempotencyKey: key(), accountId: payer, amountCents: 1_000n, currency: "USD" }, ctx);

  const watch = ledger.watchAccount(payer, "");
  const first = await next(watch);
  await ledger.authorizePayment({ idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents: 100n, currency: "USD", description: "now" }, ctx);
  const seen = await next(watch);
  assert.equal(seen.entry?.amountCents, -100n);
  await watch.return(undefined);
  assert.notEqual(seen.resumeToken, first.resumeToken);

  // Another instance, its clock an hour behind, commits a payment after the watcher's position.
  const at = new Date(Date.now() - 3_600_000).toISOString();
  const paymentId = ulid();
  await database.handle.db.execute(sql`select ledger_apply(${JSON.stringify([{
    kind: "authorize", clientId: ctx.clientId, key: key(), method: "AuthorizePayment", requestHash: "skewed", paymentId,
    payerAccountId: payer, payeeAccountId: payee, amountCents: "30", currency: "USD", description: "skewed", captureMethod: "AUTOMATIC",
    holdExpiresAt: null, at, eventId: ulid(), traceparent: null,
  }])}::text::jsonb, 24)`);

  const resumed = ledger.watchAccount(payer, seen.resumeToken);
  const start = await next(resumed);
  assert.equal(start.balance.availableCents, 900n, "the balances as of the position");
  const late = await next(resumed);
  await resumed.return(undefined);
  assert.deepEqual([late.entry?.causeId, late.entry?.amountCents, late.entry?.lineSequence], [paymentId, -30n, seen.entry!.lineSequence + 1n]);
  assert.equal(late.balance.availableCents, 870n);

  const statement = await ledger.listAccountEntries({ accountId: payer, newestFirst: false, pageSize: 10, pageToken: "" });
  assert.deepEqual(statement.items.map((line) => [line.lineSequence, line.availableAfterCents]), [[1n, 1_000n], [2n, 900n], [3n, 870n]]);
  assert.ok(statement.items[2]!.createdAt < statement.items[1]!.createdAt, "ordered by commit, not by the stamped time");
});

it("chains the lines of a set-based batch that places holds and moves money on the same account", async () => {
  const payer = await account("batch payer");
  const payee = await account("batch payee");
  await ledger.depositFunds({ idempotencyKey: key(), accountId: payer, amountCents: 10_000n, currency: "USD" }, ctx);
  const commands = Array.from({ length: 12 }, (_, i) => ({
    idempotencyKey: key(), payerAccountId: payer, payeeAccountId: payee, amountCents: BigInt(100 + i), currency: "USD", description: `${i}`,
    ...(i % 3 === 0 ? { captureMethod: "MANUAL" as const } : {}),
  }));
  const outcomes = await ledger.authorizePayments(commands, ctx);
  assert.equal(outcomes.filter((o) => "payment" in o).length, 12);

  const lines = (await ledger.listAccountEntries({ accountId: payer, newestFirst: false, pageSize: 100, pageToken: "" })).items;
  assert.deepEqual(lines.map((line) => line.lineSequence), lines.map((_, i) => BigInt(i + 1)), "numbered 1..n without gaps");
  assert.equal(lines.filter((line) => line.kind === "HELD").length, 4);
  for (let i = 1; i < lines.length; i++) {
    assert.equal(lines[i]!.availableBeforeCents, lines[i - 1]!.availableAfterCents, `line ${i + 1} starts where line ${i} ended`);
    assert.equal(lines[i]!.balanceBeforeCents, lines[i - 1]!.balanceAfterCents);
  }
  const balance = await ledger.getBalance(payer);
  assert.deepEqual([lines.at(-1)!.availableAfterCents, lines.at(-1)!.balanceAfterCents], [balance.availableCents, balance.ledgerCents]);
  assert.deepEqual(await ledger.verify(), { ok: true, violations: [] });
});
