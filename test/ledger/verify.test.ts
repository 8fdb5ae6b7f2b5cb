/**
 * Verification and the per-account hash chain against real PostgreSQL: a ledger written by
 * concurrent deposits and payments verifies clean; editing a past entry in SQL (with the
 * append-only trigger lifted) is found and the entry named; `npm run verify` exits non-zero.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import { Ledger } from "../../src/ledger/ledger.js";
import { runMigrations } from "../../src/db/migrate.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { assertLedgerInvariants, rows } from "../support/invariants.js";

const execFileAsync = promisify(execFile);
const ctx = { clientId: "verify-client" };
let database: TestDatabase;
let ledger: Ledger;
let keySeq = 0;
const key = () => `key-${++keySeq}`;

before(async () => {
  database = await createTestDatabase(10);
  ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
});
after(() => database.drop());

/**
 * A database of its own (the checks below tamper with it) with a holder account funded with 1,000
 * and a merchant account: runs `check(ledger, holder, merchant, database)`, then drops the database.
 */
async function withHolderAndMerchant(check: (l: Ledger, a: string, b: string, fresh: TestDatabase) => Promise<void>): Promise<void> {
  const fresh = await createTestDatabase(4);
  try {
    const l = new Ledger(fresh.handle.db, { idempotencyTtlHours: 24 });
    const a = (await l.createAccount({ currency: "USD", displayName: "holder", accountId: "" }, ctx)).accountId;
    const b = (await l.createAccount({ currency: "USD", displayName: "merchant", accountId: "" }, ctx)).accountId;
    await l.depositFunds({ idempotencyKey: key(), accountId: a, amountCents: 1_000n, currency: "USD" }, ctx);
    await check(l, a, b, fresh);
  } finally {
    await fresh.drop();
  }
}

async function runVerifyCli(): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await execFileAsync("node", ["--import", "tsx", "src/ledger/verify-cli.ts"], {
      env: { ...process.env, DATABASE_URL: database.url },
    });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, stdout: failed.stdout };
  }
}

describe("VerifyLedger", () => {
  it("chains every entry under concurrent writers and finds nothing wrong", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await ledger.createAccount({ currency: "EUR", displayName: `v${i}`, accountId: "" }, ctx)).accountId);
    await Promise.all(ids.map((id) => ledger.depositFunds({ idempotencyKey: key(), accountId: id, amountCents: 1_000n, currency: "EUR" }, ctx)));
    // Concurrent payments among four accounts (batched by the ledger) and deposits beside them.
    await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        i % 10 === 0
          ? ledger.depositFunds({ idempotencyKey: key(), accountId: ids[i % 4]!, amountCents: 7n, currency: "EUR" }, ctx)
          : ledger.authorizePayment(
              { idempotencyKey: key(), payerAccountId: ids[i % 4]!, payeeAccountId: ids[(i + 1 + (i % 3)) % 4]!, amountCents: BigInt(1 + (i % 13)), currency: "EUR", description: "" },
              ctx,
            ),
      ),
    );
    await assertLedgerInvariants(ledger.db);
    const report = await ledger.verify();
    assert.deepEqual(report, { ok: true, violations: [] });
    for (const id of ids) {
      const [chain] = await rows(ledger.db, sql`
        select count(*)::int as n, max(account_seq)::int as last, (array_agg(balance_after_cents order by account_seq desc))[1]::text as balance
        from ledger_entries where account_id = ${id}`);
      assert.equal(chain!.n, chain!.last, "sequences are 1..n");
      assert.equal(BigInt(chain!.balance as string), (await ledger.getBalance(id)).ledgerCents);
    }
    const cli = await runVerifyCli();
    assert.equal(cli.code, 0, cli.stdout);
    assert.match(cli.stdout, /no violations/);
  });

  it("names a past entry edited in SQL, and npm run verify exits non-zero", async () => {
    const a = (await ledger.createAccount({ currency: "EUR", displayName: "victim", accountId: "" }, ctx)).accountId;
    const b = (await ledger.createAccount({ currency: "EUR", displayName: "other", accountId: "" }, ctx)).accountId;
    await ledger.depositFunds({ idempotencyKey: key(), accountId: a, amountCents: 1_000n, currency: "EUR" }, ctx);
    for (let i = 0; i < 3; i++) {
      await ledger.authorizePayment({ idempotencyKey: key(), payerAccountId: a, payeeAccountId: b, amountCents: 100n, currency: "EUR", description: "" }, ctx);
    }
    const [target] = await rows(ledger.db, sql`select id::text as id from ledger_entries where account_id = ${a} and account_seq = 2`);
    const entryId = target!.id as string;

    // The tampering: an entry's amount is changed, its hash and balances left alone.
    await ledger.db.transaction(async (tx) => {
      await tx.execute(sql`alter table ledger_entries disable trigger ledger_entries_append_only`);
      await tx.execute(sql`update ledger_entries set amount_cents = -1 where id = ${entryId}::bigint`);
      await tx.execute(sql`alter table ledger_entries enable trigger ledger_entries_append_only`);
    });

    const report = await ledger.verify();
    assert.equal(report.ok, false);
    const hash = report.violations.filter((v) => v.check === "HASH_MISMATCH");
    assert.deepEqual(hash.map((v) => v.subject), [`entry ${entryId}`], "exactly the edited entry fails its hash");
    assert.ok(report.violations.some((v) => v.check === "CURRENCY_UNBALANCED" && v.subject === "EUR"));
    assert.ok(report.violations.some((v) => v.check === "BALANCE_MISMATCH" && v.subject === a));

    // A careful forger who also recomputes the edited entry's own hash breaks the next link instead.
    await ledger.db.transaction(async (tx) => {
      await tx.execute(sql`alter table ledger_entries disable trigger ledger_entries_append_only`);
      await tx.execute(sql`
        update ledger_entries e set entry_hash = ledger_entry_hash(p.entry_hash, e.id, e.account_id, e.transfer_id, e.amount_cents,
          e.currency, e.created_at, e.account_seq, e.balance_after_cents)
        from ledger_entries p where e.id = ${entryId}::bigint and p.account_id = e.account_id and p.account_seq = e.account_seq - 1`);
      await tx.execute(sql`alter table ledger_entries enable trigger ledger_entries_append_only`);
    });
    const [next] = await rows(ledger.db, sql`select id::text as id from ledger_entries where account_id = ${a} and account_seq = 3`);
    const again = await ledger.verify();
    assert.deepEqual(again.violations.filter((v) => v.check === "HASH_MISMATCH").map((v) => v.subject), [`entry ${next!.id}`]);
    assert.ok(again.violations.some((v) => v.check === "RUNNING_BALANCE" && v.subject === `entry ${entryId}`));

    const cli = await runVerifyCli();
    assert.equal(cli.code, 1);
    assert.match(cli.stdout, new RegExp(`HASH_MISMATCH\\tentry ${next!.id}`));
  });

  it("checks held balances against hold movements and open payments; a ledger with holds verifies clean", async () => {
    await withHolderAndMerchant(async (l, a, b) => {
      const manual = (amountCents: bigint) =>
        l.authorizePayment({ idempotencyKey: key(), payerAccountId: a, payeeAccountId: b, amountCents, currency: "USD", description: "", captureMethod: "MANUAL" }, ctx);
      const captured = await manual(300n);
      await l.capturePayment({ idempotencyKey: key(), paymentId: captured.paymentId, amountCents: 200n }, ctx);
      await l.refundPayment({ idempotencyKey: key(), paymentId: captured.paymentId, amountCents: 50n, reason: "" }, ctx);
      const voided = await manual(100n);
      await l.voidPayment({ idempotencyKey: key(), paymentId: voided.paymentId }, ctx);
      const open = await manual(70n);
      await l.withdrawFunds({ idempotencyKey: key(), accountId: b, amountCents: 10n, currency: "USD", reference: "payout" }, ctx);
      const balance = await l.getBalance(a);
      assert.deepEqual([balance.availableCents, balance.heldCents, balance.ledgerCents], [780n, 70n, 850n]);
      assert.deepEqual(await l.verify(), { ok: true, violations: [] }, "entries sum to available + held");

      // Money moved from available to held without a hold movement or an open payment behind it:
      // the ledger balance still matches the entries, only the hold checks can see it.
      await l.db.execute(sql`update balances set available_cents = available_cents - 5, held_cents = held_cents + 5 where account_id = ${a}`);
      const moved = await l.verify();
      assert.deepEqual(moved.violations.map((v) => [v.check, v.subject]), [["HELD_MISMATCH", a], ["OPEN_HOLDS_MISMATCH", a]]);
      assert.match(moved.violations[0]!.detail, /held is 75 but its hold movements sum to 70/);
      await l.db.execute(sql`update balances set available_cents = available_cents + 5, held_cents = held_cents - 5 where account_id = ${a}`);

      // An open payment marked voided without its release: the money stays held for nothing.
      await l.db.execute(sql`update payment_states set status = 'VOIDED' where payment_id = ${open.paymentId}`);
      const orphan = await l.verify();
      assert.deepEqual(orphan.violations.map((v) => [v.check, v.subject]), [["OPEN_HOLDS_MISMATCH", a]]);
      assert.match(orphan.violations[0]!.detail, /held is 70 but its open payments \(REQUIRES_CAPTURE\) hold 0/);
    });
  });

  it("names a closed account that holds money or got a line after its closing (the rule bypassed in SQL)", async () => {
    await withHolderAndMerchant(async (l, a, b, fresh) => {
      await l.closeAccount({ accountId: b, idempotencyKey: key() }, ctx);
      assert.deepEqual(await l.verify(), { ok: true, violations: [] }, "a closed empty account verifies clean");
      // closed_at moved back before the holder's deposit: as if a deposit had reached a closed account.
      await l.db.execute(sql`update balances set closed_at = '2000-01-01' where account_id = ${a}`);
      const found = await l.verify();
      assert.deepEqual(found.violations.map((v) => [v.check, v.subject]), [["CLOSED_NOT_EMPTY", a]]);
      assert.match(found.violations[0]!.detail, /closed at 2000-01-01T00:00:00.000Z but has 1000 available and 0 held, and statement line 1 written after the closing/);
      void fresh;
    });
  });

  it("leaves entries written outside ledger_apply alone on a later migrate (the naive benchmark script writes such rows)", async () => {
    await withHolderAndMerchant(async (l, a, b, fresh) => {
      await l.authorizePayment({ idempotencyKey: key(), payerAccountId: a, payeeAccountId: b, amountCents: 100n, currency: "USD", description: "" }, ctx);
      await l.db.execute(sql`insert into ledger_entries (transfer_id, account_id, amount_cents, currency) values ('naive', ${a}, -1, 'USD'), ('naive', ${b}, 1, 'USD')`);
      const lines = async () => rows(l.db, sql`select id::text, line_seq::text, entry_hash from ledger_entries order by id`);
      const before = await lines();
      await runMigrations(fresh.handle);
      assert.deepEqual(await lines(), before, "nothing renumbered or rechained");
    });
  });

  it("numbers the statement lines written before line numbers existed on the next migrate (databases older than 0006)", async () => {
    await withHolderAndMerchant(async (l, a, b, fresh) => {
      const hold = await l.authorizePayment({ idempotencyKey: key(), payerAccountId: a, payeeAccountId: b, amountCents: 300n, currency: "USD", description: "", captureMethod: "MANUAL" }, ctx);
      await l.authorizePayment({ idempotencyKey: key(), payerAccountId: a, payeeAccountId: b, amountCents: 100n, currency: "USD", description: "" }, ctx);
      await l.capturePayment({ idempotencyKey: key(), paymentId: hold.paymentId, amountCents: 250n }, ctx);
      const statement = async () => (await l.listAccountEntries({ accountId: a, newestFirst: false, pageSize: 50, pageToken: "" })).items;
      const before = await statement();
      assert.deepEqual(before.map((line) => [line.kind, line.lineSequence, line.availableAfterCents, line.balanceAfterCents]), [
        ["ENTRY", 1n, 1_000n, 1_000n], ["HELD", 2n, 700n, 1_000n], ["ENTRY", 3n, 600n, 900n], ["RELEASED", 4n, 900n, 900n], ["ENTRY", 5n, 650n, 650n],
      ]);

      // What a pre-0006 database looks like after the columns were added: no line numbers anywhere.
      await l.db.transaction(async (tx) => {
        await tx.execute(sql`alter table ledger_entries disable trigger ledger_entries_append_only`);
        await tx.execute(sql`alter table hold_movements disable trigger hold_movements_append_only`);
        await tx.execute(sql`update ledger_entries set line_seq = null, held_after_cents = null`);
        await tx.execute(sql`update hold_movements set line_seq = null, ledger_after_cents = null, held_after_cents = null`);
        await tx.execute(sql`alter table ledger_entries enable trigger ledger_entries_append_only`);
        await tx.execute(sql`alter table hold_movements enable trigger hold_movements_append_only`);
        // ... and, being older than 0007 too, balance rows without the heads of their history.
        await tx.execute(sql`update balances set entry_seq = null, line_seq = null, payment_seq = null, chain_hash = null`);
      });
      assert.ok((await l.verify()).violations.some((v) => v.check === "LINE_SEQUENCE"));

      await runMigrations(fresh.handle);
      assert.deepEqual(await l.verify(), { ok: true, violations: [] });
      assert.deepEqual(await statement(), before, "the same statement as before");
    });
  });

  it("names a statement line whose stored balance or number was changed", async () => {
    await withHolderAndMerchant(async (l, a, b) => {
      await l.authorizePayment({ idempotencyKey: key(), payerAccountId: a, payeeAccountId: b, amountCents: 300n, currency: "USD", description: "", captureMethod: "MANUAL" }, ctx);
      await l.authorizePayment({ idempotencyKey: key(), payerAccountId: a, payeeAccountId: b, amountCents: 100n, currency: "USD", description: "" }, ctx);
      const [hold] = await rows(l.db, sql`select id::text as id from hold_movements where account_id = ${a}`);
      await l.db.transaction(async (tx) => {
        await tx.execute(sql`alter table hold_movements disable trigger hold_movements_append_only`);
        await tx.execute(sql`update hold_movements set held_after_cents = 30 where id = ${hold!.id as string}::bigint`);
        await tx.execute(sql`alter table hold_movements enable trigger hold_movements_append_only`);
      });
      const changed = await l.verify();
      assert.deepEqual(changed.violations.map((v) => [v.check, v.subject]), [["LINE_BALANCE", `hold movement ${hold!.id}`]]);
      assert.match(changed.violations[0]!.detail, /held 30 after it, expected 1000 and 300/);

      const [entry] = await rows(l.db, sql`select id::text as id from ledger_entries where account_id = ${a} and account_seq = 2`);
      await l.db.transaction(async (tx) => {
        await tx.execute(sql`alter table ledger_entries disable trigger ledger_entries_append_only`);
        await tx.execute(sql`update ledger_entries set line_seq = 7 where id = ${entry!.id as string}::bigint`);
        await tx.execute(sql`alter table ledger_entries enable trigger ledger_entries_append_only`);
      });
      const renumbered = await l.verify();
      assert.ok(renumbered.violations.some((v) => v.check === "LINE_SEQUENCE" && v.subject === `entry ${entry!.id}`));
    });
  });

  it("chains entries written before the chain existed on the next migrate (databases older than 0005)", async () => {
    // A database of its own: the previous test left tampered entries behind.
    const fresh = await createTestDatabase(4);
    try {
      await backfill(fresh);
    } finally {
      await fresh.drop();
    }
  });
});

async function backfill(database: TestDatabase): Promise<void> {
  const ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
  {
    const a = (await ledger.createAccount({ currency: "GBP", displayName: "old", accountId: "" }, ctx)).accountId;
    const b = (await ledger.createAccount({ currency: "GBP", displayName: "older", accountId: "" }, ctx)).accountId;
    await ledger.depositFunds({ idempotencyKey: key(), accountId: a, amountCents: 900n, currency: "GBP" }, ctx);
    await ledger.authorizePayment({ idempotencyKey: key(), payerAccountId: a, payeeAccountId: b, amountCents: 300n, currency: "GBP", description: "" }, ctx);
    // What a pre-0005 database looks like after the columns were added: every entry unchained.
    await ledger.db.transaction(async (tx) => {
      await tx.execute(sql`alter table ledger_entries disable trigger ledger_entries_append_only`);
      await tx.execute(sql`update ledger_entries set account_seq = null, balance_after_cents = null, entry_hash = null`);
      await tx.execute(sql`alter table ledger_entries enable trigger ledger_entries_append_only`);
      await tx.execute(sql`update balances set entry_seq = null, line_seq = null, payment_seq = null, chain_hash = null`);
    });
    assert.equal((await ledger.verify()).ok, false);

    await runMigrations(database.handle);
    assert.deepEqual(await ledger.verify(), { ok: true, violations: [] });
    const statement = await ledger.listAccountEntries({ accountId: a, newestFirst: false, pageSize: 10, pageToken: "" });
    assert.deepEqual(statement.items.map((e) => [e.sequence, e.balanceAfterCents]), [[1n, 900n], [2n, 600n]]);
    await assert.rejects(
      database.handle.db.execute(sql`delete from ledger_entries where account_id = ${a}`),
      "history is append-only again after the backfill",
    );
  }
}
