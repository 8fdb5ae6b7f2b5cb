/**
 * Deadlines: a request whose deadline passes fails with DEADLINE_EXCEEDED; a retry with the same
 * idempotency key then returns the one result, whether or not the first attempt committed.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { jsonClients, ledgerClients, transportFactories } from "../support/clients.js";
import { countRows } from "../support/invariants.js";
import { startTestService, type TestService } from "../support/service.js";

let running: TestService;
before(async () => {
  running = await startTestService();
});
after(() => running.stop());

it("honours client deadlines and keeps retries safe", async () => {
  const { accounts, payments } = jsonClients(running.url);
  const payer = (await accounts.createAccount({ currency: "USD", displayName: "p" })).account!.accountId;
  const payee = (await accounts.createAccount({ currency: "USD", displayName: "q" })).account!.accountId;
  await accounts.depositFunds({ idempotencyKey: "seed", accountId: payer, amountCents: 1_000n, currency: "USD" });
  const request = { idempotencyKey: "deadline-1", payerAccountId: payer, payeeAccountId: payee, amountCents: 10n, currency: "USD" };

  const grpc = ledgerClients(transportFactories["grpc-http2"]!(running.url));
  const error = await grpc.payments.authorizePayment(request, { timeoutMs: 1 }).catch((e: unknown) => ConnectError.from(e));
  assert.ok(error instanceof ConnectError, "the call failed");
  assert.equal(error.code, Code.DeadlineExceeded);

  const first = await payments.authorizePayment(request);
  const again = await payments.authorizePayment(request);
  assert.deepEqual(again.payment, first.payment);
  assert.equal(await countRows(running.database.handle.db, "payments"), 1, "one effect despite the timed-out attempt");
});
