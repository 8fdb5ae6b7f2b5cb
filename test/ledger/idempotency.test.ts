import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import { requestFingerprint, sweepExpiredKeys } from "../../src/ledger/idempotency.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { assertLedgerInvariants, countRows, rows } from "../support/invariants.js";

const ctx = { clientId: "client-a" };
let database: TestDatabase;
let ledger: Ledger;
let payer: string;
let payee: string;

before(async () => {
  database = await createTestDatabase(30);
  ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
  payer = (await ledger.createAccount({ accountId: "", currency: "USD", displayName: "payer" }, ctx)).accountId;
  payee = (await ledger.createAccount({ accountId: "", currency: "USD", displayName: "payee" }, ctx)).accountId;
  await ledger.depositFunds({ idempotencyKey: "seed", accountId: payer, amountCents: 1_000_000n, currency: "USD" }, ctx);
});
after(() => database.drop());

const pay = (idempotencyKey: string, amountCents = 100n, context = ctx) =>
  ledger.authorizePayment({ idempotencyKey, payerAccountId: payer, payeeAccountId: payee, amountCents, currency: "USD", description: "" }, context);

describe("idempotency keys", () => {
  it("fingerprints requests independently of field order", () => {
    assert.equal(requestFingerprint("M", { a: "1", b: 2n }), requestFingerprint("M", { b: 2n, a: "1" }));
    assert.notEqual(requestFingerprint("M", { a: "1" }), requestFingerprint("N", { a: "1" }));
    assert.notEqual(requestFingerprint("M", { a: "1" }), requestFingerprint("M", { a: "2" }));
  });

  it("replays the identical result and moves money once", async () => {
    const first = await pay("replay-1");
    const again = await pay("replay-1");
    assert.deepEqual(again, first);
    const [moved] = await rows(ledger.db, sql`select count(*)::int as n from payments where id = ${first.paymentId}`);
    assert.equal(moved?.n, 1);
    assert.equal((await ledger.getBalance(payee)).availableCents, 100n);
  });

  it("refuses the same key with a different request, naming the key", async () => {
    await pay("mismatch-1", 100n);
    await assert.rejects(pay("mismatch-1", 200n), (error: Error & { code?: string; field?: string }) => {
      assert.equal(error.code, "IDEMPOTENCY_KEY_REUSED");
      assert.equal(error.field, "idempotency_key");
      assert.match(error.message, /mismatch-1.*different AuthorizePayment request/);
      return true;
    });
    await assert.rejects(
      ledger.depositFunds({ idempotencyKey: "mismatch-1", accountId: payer, amountCents: 100n, currency: "USD" }, ctx),
      { code: "IDEMPOTENCY_KEY_REUSED" },
    );
  });

  it("scopes keys per client", async () => {
    const mine = await pay("shared-key");
    const theirs = await pay("shared-key", 100n, { clientId: "client-b" });
    assert.notEqual(theirs.paymentId, mine.paymentId);
  });

  it("gives 20 concurrent identical requests one effect and the same response", async () => {
    const before = await countRows(ledger.db, "payments");
    const results = await Promise.all(Array.from({ length: 20 }, () => pay("race-1", 333n)));
    assert.equal(new Set(results.map((r) => r.paymentId)).size, 1);
    for (const result of results) assert.deepEqual(result, results[0]);
    assert.equal(await countRows(ledger.db, "payments"), before + 1);
    await assertLedgerInvariants(ledger.db);
  });

  it("lets an expired key be reused and sweeps expired keys", async () => {
    const first = await pay("expiring");
    await ledger.db.execute(sql`update idempotency_keys set expires_at = now() - interval '1 second' where key = 'expiring'`);
    const second = await pay("expiring");
    assert.notEqual(second.paymentId, first.paymentId, "an expired key starts a new request");
    await ledger.db.execute(sql`update idempotency_keys set expires_at = now() - interval '1 second' where key = 'expiring'`);
    assert.equal(await sweepExpiredKeys(ledger.db), 1);
    assert.deepEqual(await rows(ledger.db, sql`select key from idempotency_keys where key = 'expiring'`), []);
  });
});
