/** Graceful shutdown: new connections are refused while in-flight requests finish. */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { it } from "node:test";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { PaymentStatus } from "../../gen/payment/v1/payment_pb.js";
import { jsonClients } from "../support/clients.js";
import { rows } from "../support/invariants.js";
import { startTestService } from "../support/service.js";
import { until } from "../support/until.js";

it("finishes a payment that is in flight when the service stops", async () => {
  const running = await startTestService();
  const { accounts, payments } = jsonClients(running.url);
  const payer = (await accounts.createAccount({ currency: "USD", displayName: "p" })).account!.accountId;
  const payee = (await accounts.createAccount({ currency: "USD", displayName: "q" })).account!.accountId;
  await accounts.depositFunds({ idempotencyKey: "seed", accountId: payer, amountCents: 100n, currency: "USD" });

  // Hold the payer's balance row lock from outside, so the payment is stuck mid-transaction.
  const blocker = postgres(running.database.url, { max: 1 });
  let release!: () => void;
  const locked = new Promise<void>((resolve) => {
    void blocker.begin(async (sql) => {
      await sql`select 1 from balances where account_id = ${payer} for update`;
      resolve();
      await new Promise<void>((r) => (release = r));
    });
  });
  await locked;
  const inFlight = payments.authorizePayment({ idempotencyKey: "drain", payerAccountId: payer, payeeAccountId: payee, amountCents: 60n, currency: "USD" });
  await until("the payment to wait on the held row lock", async () => {
    // The blocker's one connection is busy holding the lock: ask on the test database's own pool.
    const [row] = await rows(running.database.handle.db, sql`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()`);
    return Number(row?.n) > 0;
  });

  let stopped = false;
  const stopping = running.service.stop().then(() => (stopped = true));
  await until("the port to refuse new connections", () =>
    fetch(`${running.url}/payment.v1.PaymentService/GetPayment`, { method: "POST" }).then(() => false, () => true),
  );
  assert.equal(stopped, false, "stop waits for the in-flight request");

  release();
  const { payment } = await inFlight;
  assert.equal(payment?.status, PaymentStatus.AUTHORIZED);
  await stopping;
  await blocker.end();
  await running.database.drop();
});

it("stops promptly although a client connected and sent nothing, or closed without a request", async () => {
  const running = await startTestService({ SHUTDOWN_TIMEOUT_MS: "20000" });
  const { port } = new URL(running.url);
  const silent = connect(Number(port), "127.0.0.1");
  const probe = connect(Number(port), "127.0.0.1");
  await Promise.all([once(silent, "connect"), once(probe, "connect")]);
  probe.end();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const started = performance.now();
  await running.stop();
  const elapsed = performance.now() - started;
  silent.destroy();
  assert.ok(elapsed < 5_000, `stop took ${Math.round(elapsed)} ms, not the 20 s shutdown timeout`);
});
