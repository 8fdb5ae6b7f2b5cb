/**
 * A backend's first payment through the typed client: two accounts, a deposit, a payment with the
 * backend's own references (metadata), its replay, and the payment found again by its reference.
 * Run against a running service:
 *
 *     LEDGER_URL=http://127.0.0.1:8080 LEDGER_API_KEY=$(cat .data/pglite/dev-api-key) npx tsx examples/authorize-payment.ts
 *
 * Prints one JSON line per step. The payment's idempotency key is chosen here, so running the
 * script's last step again (or a retry after a lost response) returns the same payment.
 */
import { randomUUID } from "node:crypto";
import { createLedgerClient, PaymentStatus } from "payment-ledger/client";

const ledger = createLedgerClient({
  baseUrl: process.env.LEDGER_URL ?? "http://127.0.0.1:8080",
  apiKey: process.env.LEDGER_API_KEY,
  protocol: process.env.LEDGER_PROTOCOL === "grpc" ? "grpc" : "connect",
  timeoutMs: 5_000,
});
const print = (step: string, value: unknown) =>
  console.log(JSON.stringify({ step, ...(value as object) }, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));

const { account: payer } = await ledger.accounts.createAccount({ currency: "USD", displayName: "Alice" });
const { account: payee } = await ledger.accounts.createAccount({ currency: "USD", displayName: "Bob" });
print("accounts", { payer: payer!.accountId, payee: payee!.accountId });

// No idempotency key given: the client makes one, and reuses it if it has to retry.
const deposited = await ledger.accounts.depositFunds({ accountId: payer!.accountId, amountCents: 10_000n, currency: "USD" });
print("deposit", { depositId: deposited.deposit!.depositId, availableBalanceCents: deposited.availableBalanceCents });

const orderId = `order-${randomUUID()}`;
const order = {
  idempotencyKey: orderId, payerAccountId: payer!.accountId, payeeAccountId: payee!.accountId, amountCents: 2_500n, currency: "USD",
  description: "order 1", metadata: { order_id: orderId },
};
const { payment } = await ledger.payments.authorizePayment(order);
print("payment", { paymentId: payment!.paymentId, status: PaymentStatus[payment!.status] });

const { payment: again } = await ledger.payments.authorizePayment(order);
print("replay", { paymentId: again!.paymentId, same: again!.paymentId === payment!.paymentId });

// Search by the backend's reference: every pair given must match.
const { payments: found } = await ledger.payments.listPayments({ metadata: { order_id: orderId } });
print("search", { found: found.map((p) => p.paymentId), same: found.length === 1 && found[0]!.paymentId === payment!.paymentId });

const balance = await ledger.payments.getAccountBalance({ accountId: payee!.accountId });
print("balance", { accountId: balance.accountId, availableBalanceCents: balance.availableBalanceCents });
