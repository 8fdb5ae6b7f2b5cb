/**
 * The console's browser code (bundled by console-routes.ts): a person creates accounts, deposits,
 * authorizes payments and watches balances, through the gRPC-Web transport of connect-web, the
 * same generated clients a backend uses. `?api=<origin>` points it at another server (CORS).
 */
import { ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AccountService, type Account } from "../../gen/payment/v1/account_pb.js";
import { DeclineReason, PaymentService, PaymentStatus, type Payment } from "../../gen/payment/v1/payment_pb.js";

const KEY_STORAGE = "payment-ledger-api-key";
const baseUrl = new URLSearchParams(location.search).get("api") ?? location.origin;
const $ = <T extends Element>(selector: string) => document.querySelector<T>(selector)!;

const withKey: Interceptor = (next) => (request) => {
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) request.header.set("authorization", `Bearer ${key}`);
  return next(request);
};
const transport = createGrpcWebTransport({ baseUrl, interceptors: [withKey] });
const accountsApi = createClient(AccountService, transport);
const paymentsApi = createClient(PaymentService, transport);

const accounts: Account[] = [];
const balances = new Map<string, bigint>();

/** "12.34" -> 1234n; money never goes through floating point. */
function parseCents(text: string): bigint {
  const match = /^(\d{1,13})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!match) throw new Error(`amount must look like 12.34, got "${text}"`);
  return BigInt(match[1]!) * 100n + BigInt((match[2] ?? "0").padEnd(2, "0"));
}

function formatCents(cents: bigint, currency: string): string {
  const sign = cents < 0n ? "-" : "";
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, "0")} ${currency}`;
}

function say(message: string, error = ""): void {
  $("#message").textContent = message;
  $("#error").textContent = error;
}

function cell(row: HTMLTableRowElement, text: string, className = ""): void {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
}

function nameOf(accountId: string): string {
  return accounts.find((a) => a.accountId === accountId)?.displayName ?? accountId;
}

function renderAccounts(): void {
  const body = $<HTMLTableElement>("#accounts").tBodies[0]!;
  body.replaceChildren();
  for (const account of accounts) {
    const row = body.insertRow();
    cell(row, account.displayName);
    cell(row, account.accountId);
    cell(row, formatCents(balances.get(account.accountId) ?? 0n, account.currency), "money");
  }
  for (const select of Array.from(document.querySelectorAll<HTMLSelectElement>(".account-choice"))) {
    const chosen = select.value;
    select.replaceChildren(...accounts.map((a) => new Option(`${a.displayName} (${a.currency})`, a.accountId)));
    if (chosen) select.value = chosen;
  }
}

function addPayment(payment: Payment): void {
  const row = $<HTMLTableElement>("#payments").tBodies[0]!.insertRow(0);
  cell(row, payment.paymentId);
  cell(row, nameOf(payment.payerAccountId));
  cell(row, nameOf(payment.payeeAccountId));
  cell(row, formatCents(payment.amountCents, payment.currency), "money");
  const status = PaymentStatus[payment.status].replace("PAYMENT_STATUS_", "");
  const reason = payment.declineReason ? ` (${DeclineReason[payment.declineReason].replace("DECLINE_REASON_", "")})` : "";
  cell(row, status + reason, status);
}

async function refreshBalances(): Promise<void> {
  for (const account of accounts) {
    const balance = await paymentsApi.getAccountBalance({ accountId: account.accountId });
    balances.set(account.accountId, balance.availableBalanceCents);
  }
  renderAccounts();
}

/** Runs a form's action, showing its outcome or its error (Connect code and message). */
function onSubmit(id: string, action: (form: FormData) => Promise<string>): void {
  $<HTMLFormElement>(id).addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    action(new FormData(form))
      .then((message) => say(message))
      .catch((error: unknown) => say("", error instanceof ConnectError ? `${error.message}` : String((error as Error).message ?? error)));
  });
}

onSubmit("#key-form", async (form) => {
  sessionStorage.setItem(KEY_STORAGE, String(form.get("apiKey")).trim());
  return "API key set for this tab.";
});

onSubmit("#create-account", async (form) => {
  const { account } = await accountsApi.createAccount({ displayName: String(form.get("displayName")), currency: String(form.get("currency")) });
  accounts.push(account!);
  balances.set(account!.accountId, 0n);
  renderAccounts();
  return `Created account ${account!.displayName}.`;
});

onSubmit("#deposit", async (form) => {
  const accountId = String(form.get("accountId"));
  const account = accounts.find((a) => a.accountId === accountId)!;
  const response = await accountsApi.depositFunds({
    idempotencyKey: crypto.randomUUID(),
    accountId,
    amountCents: parseCents(String(form.get("amount"))),
    currency: account.currency,
  });
  balances.set(accountId, response.availableBalanceCents);
  renderAccounts();
  return `Deposited ${formatCents(response.deposit!.amountCents, account.currency)} to ${account.displayName}.`;
});

onSubmit("#pay", async (form) => {
  const payer = accounts.find((a) => a.accountId === String(form.get("payerAccountId")))!;
  const { payment } = await paymentsApi.authorizePayment({
    idempotencyKey: crypto.randomUUID(),
    payerAccountId: payer.accountId,
    payeeAccountId: String(form.get("payeeAccountId")),
    amountCents: parseCents(String(form.get("amount"))),
    currency: payer.currency,
    description: String(form.get("description") ?? ""),
  });
  addPayment(payment!);
  await refreshBalances();
  return `Payment ${PaymentStatus[payment!.status].replace("PAYMENT_STATUS_", "").toLowerCase()}.`;
});

$("#api-url").textContent = baseUrl;
