/**
 * Identical deposits racing each other through the API: the TypeScript idempotency path
 * (claim-key INSERT ... ON CONFLICT, then replay) must apply the deposit once and give every racer
 * the same answer, whichever one wins; a racer with the same key and another body is refused.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { jsonClients, ledgerClients, transportFactories } from "../support/clients.js";
import { assertLedgerInvariants, rows } from "../support/invariants.js";
import { startTestService, type TestService } from "../support/service.js";

let svc: TestService;
before(async () => {
  svc = await startTestService();
});
after(() => svc.stop());

describe("two identical deposits at once", () => {
  it("move money once and answer both with the same deposit, over many rounds and both protocols", async () => {
    const { accounts } = jsonClients(svc.url);
    const grpc = ledgerClients(transportFactories["grpc-http2"]!(svc.url)).accounts;
    const accountId = (await accounts.createAccount({ currency: "USD", displayName: "racer" })).account!.accountId;
    const rounds = 20;
    for (let round = 0; round < rounds; round++) {
      const request = { idempotencyKey: `race-${round}`, accountId, amountCents: 100n, currency: "USD" };
      // One over Connect, one over gRPC: separate connections, so they really reach the database together.
      const [a, b] = await Promise.all([accounts.depositFunds(request), grpc.depositFunds(request)]);
      assert.equal(a.deposit!.depositId, b.deposit!.depositId, `round ${round}: one deposit`);
      assert.equal(a.availableBalanceCents, b.availableBalanceCents);
    }
    const [{ n, total }] = (await rows(
      svc.database.handle.db,
      sql`select count(*)::int as n, sum(amount_cents)::text as total from ledger_entries where account_id = ${accountId}`,
    )) as [{ n: number; total: string }];
    assert.deepEqual({ n, total }, { n: rounds, total: String(rounds * 100) });
    const [events] = await rows(
      svc.database.handle.db,
      sql`select count(*)::int as n from outbox where aggregate_id = ${accountId} and event_type = 'FundsDeposited'`,
    );
    assert.equal(events?.n, rounds);
    await assertLedgerInvariants(svc.database.handle.db);
  });

  it("the same key with another amount, at the same time: one applies, the other is ALREADY_EXISTS", async () => {
    const { accounts } = jsonClients(svc.url);
    const grpc = ledgerClients(transportFactories["grpc-http2"]!(svc.url)).accounts;
    const accountId = (await accounts.createAccount({ currency: "USD", displayName: "racer 2" })).account!.accountId;
    const results = await Promise.allSettled([
      accounts.depositFunds({ idempotencyKey: "clash", accountId, amountCents: 100n, currency: "USD" }),
      grpc.depositFunds({ idempotencyKey: "clash", accountId, amountCents: 200n, currency: "USD" }),
    ]);
    const fulfilled = results.filter((r) => r.status === "fulfilled");
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    assert.equal(fulfilled.length, 1);
    assert.equal(ConnectError.from(rejected[0]!.reason).code, Code.AlreadyExists);
    const balance = await accounts.getAccount({ accountId });
    assert.ok(balance.account, "the account is still there");
    await assertLedgerInvariants(svc.database.handle.db);
  });
});
