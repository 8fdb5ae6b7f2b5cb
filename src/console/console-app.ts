/**
 * The console's browser code (bundled by console-routes.ts): a person creates accounts, deposits,
 * authorizes payments (automatic, or held for a manual capture), captures, voids, refunds, pays
 * out and reads statements, through the gRPC-Web transport of connect-web, the
 * same generated clients a backend uses. `?api=<origin>` points it at another server (CORS).
 *
 * Nothing is kept in the tab but the API key: accounts come from ListAccounts, payments from
 * ListPayments and the selected account's statement from ListAccountEntries, so a reload or another
 * client's writes show up; the selected account is followed live with WatchAccount and
 * WatchPayments (two streams: HTTP/1.1 allows a browser six connections per origin).
 */
import { ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AccountService, EntryCauseKind, StatementLineKind, WithdrawalStatus, type Account, type AccountEntry } from "../../gen/payment/v1/account_pb.js";
import { CaptureMethod, DeclineReason, PaymentService, PaymentStatus, RefundStatus, type Payment } from "../../gen/payment/v1/payment_pb.js";
import { formatAmount, parseAmount } from "./money.js";

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

let accounts: Account[] = [];
/** Available and held balance of each account, as the API last reported them. */
const balances = new Map<string, { available: bigint; held: bigint }>();
let selected = "";
let watching: AbortController | undefined;

function say(message: string, error = "", tone = "ok"): void {
  $("#message").textContent = message;
  $("#message").className = tone;
  $("#error").textContent = error;
}

function cell(row: HTMLTableRowElement, text: string, className = ""): void {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
}

const accountOf = (accountId: string) => accounts.find((a) => a.accountId === accountId);
const nameOf = (accountId: string) => accountOf(accountId)?.displayName ?? accountId;
const errorText = (error: unknown) => (error instanceof ConnectError ? error.message : String((error as Error).message ?? error));

function renderAccounts(): void {
  const body = $<HTMLTableElement>("#accounts").tBodies[0]!;
  body.replaceChildren();
  for (const account of accounts) {
    const row = body.insertRow();
    row.dataset.accountId = account.accountId;
    if (account.accountId === selected) row.className = "selected";
    cell(row, account.displayName);
    cell(row, account.accountId);
    const balance = balances.get(account.accountId);
    cell(row, formatAmount(balance?.available ?? 0n, account.currency), "money");
    cell(row, formatAmount(balance?.held ?? 0n, account.currency), "money");
    row.addEventListener("click", () => void select(account.accountId));
  }
  for (const choice of Array.from(document.querySelectorAll<HTMLSelectElement>(".account-choice"))) {
    const chosen = choice.value;
    choice.replaceChildren(...accounts.map((a) => new Option(`${a.displayName} (${a.currency})`, a.accountId)));
    if (chosen) choice.value = chosen;
  }
}

function paymentRow(payment: Payment): HTMLTableRowElement {
  const row = document.createElement("tr");
  row.dataset.paymentId = payment.paymentId;
  cell(row, payment.paymentId);
  cell(row, nameOf(payment.payerAccountId));
  cell(row, nameOf(payment.payeeAccountId));
  cell(row, formatAmount(payment.amountCents, payment.currency), "money");
  const status = PaymentStatus[payment.status];
  const reason = payment.declineReason ? ` (${DeclineReason[payment.declineReason]})` : "";
  cell(row, status + reason, status);
  cell(row, formatAmount(payment.heldCents, payment.currency), "money");
  cell(row, formatAmount(payment.capturedCents, payment.currency), "money");
  cell(row, formatAmount(payment.refundedCents, payment.currency), "money");
  return row;
}

/** Shows a payment: replaces its row when listed (a capture, void or refund changed it), else adds it at the top. */
function showPayment(payment: Payment): void {
  const body = $<HTMLTableElement>("#payments").tBodies[0]!;
  const listed = body.querySelector(`tr[data-payment-id="${payment.paymentId}"]`);
  if (listed) listed.replaceWith(paymentRow(payment));
  else body.prepend(paymentRow(payment));
}

/** Reads the balances of accounts again (after a call that moved money between them). */
async function refreshBalances(...accountIds: string[]): Promise<void> {
  for (const accountId of accountIds) {
    const balance = await paymentsApi.getAccountBalance({ accountId });
    balances.set(accountId, { available: balance.availableBalanceCents, held: balance.heldBalanceCents });
  }
  renderAccounts();
}

/** One statement line: an entry or a hold movement, numbered by its place in the statement. */
function entryRow(entry: AccountEntry, currency: string): HTMLTableRowElement {
  const row = document.createElement("tr");
  row.dataset.line = lineKey(entry);
  cell(row, String(entry.lineSequence));
  cell(row, entry.createdAt ? new Date(Number(entry.createdAt.seconds) * 1000 + entry.createdAt.nanos / 1e6).toISOString() : "");
  cell(row, StatementLineKind[entry.kind]);
  cell(row, `${EntryCauseKind[entry.causeKind]} ${entry.causeId}`);
  cell(row, formatAmount(entry.amountCents, currency), "money");
  cell(row, formatAmount(entry.availableBeforeCents, currency), "money");
  cell(row, formatAmount(entry.availableAfterCents, currency), "money");
  cell(row, formatAmount(entry.balanceAfterCents, currency), "money");
  return row;
}

/** Identifies a statement line across the list and the watch (hold movements have no entry id). */
function lineKey(entry: AccountEntry): string {
  return String(entry.lineSequence);
}

async function loadAccounts(): Promise<void> {
  const loaded: Account[] = [];
  let pageToken = "";
  do {
    const page = await accountsApi.listAccounts({ pageSize: 500, pageToken });
    loaded.push(...page.accounts);
    pageToken = page.nextPageToken;
  } while (pageToken !== "" && loaded.length < 2_000);
  accounts = loaded;
  await refreshBalances(...accounts.map((a) => a.accountId));
  const { payments } = await paymentsApi.listPayments({ pageSize: 50 });
  $<HTMLTableElement>("#payments").tBodies[0]!.replaceChildren(...payments.map(paymentRow));
}

/** Shows an account's statement and follows it (and its payments) live until another is selected. */
async function select(accountId: string): Promise<void> {
  watching?.abort();
  const watch = (watching = new AbortController());
  selected = accountId;
  renderAccounts();
  const account = accountOf(accountId)!;
  $("#statement-title").textContent = `Statement of ${account.displayName}`;
  const body = $<HTMLTableElement>("#statement").tBodies[0]!;
  body.replaceChildren();
  // The watch starts first and the statement is read once it has taken its position, so no line
  // falls between the two; a line both read and streamed is shown once.
  let listed: Promise<void> | undefined;
  const seen = new Set<string>();
  const show = (entry: AccountEntry, first: boolean) => {
    const key = lineKey(entry);
    if (seen.has(key)) return;
    seen.add(key);
    const row = entryRow(entry, account.currency);
    if (first) body.prepend(row);
    else body.append(row);
  };
  void (async () => {
    for await (const change of accountsApi.watchAccount({ accountId }, { signal: watch.signal })) {
      listed ??= accountsApi.listAccountEntries({ accountId, newestFirst: true, pageSize: 50 }).then(({ entries }) => {
        for (const entry of entries) show(entry, false);
      });
      await listed;
      balances.set(accountId, { available: change.availableBalanceCents, held: change.heldBalanceCents });
      renderAccounts();
      if (change.entry) show(change.entry, true);
    }
  })().catch((error: unknown) => watch.signal.aborted || say("", `statement updates stopped: ${errorText(error)}`));
  void (async () => {
    for await (const { payment } of paymentsApi.watchPayments({ accountId }, { signal: watch.signal })) {
      if (payment) showPayment(payment);
      const other = payment && (payment.payerAccountId === accountId ? payment.payeeAccountId : payment.payerAccountId);
      if (other && accountOf(other)) await refreshBalances(other);
    }
  })().catch((error: unknown) => watch.signal.aborted || say("", `payment updates stopped: ${errorText(error)}`));
}

/**
 * Runs a form's action. One idempotency key per submitted form: kept while the same values are
 * retried (after an error, or a second click while the first is in flight, which is ignored), a
 * new one once a field changes; the form resets after success.
 */
function onSubmit(id: string, action: (form: FormData, idempotencyKey: string) => Promise<{ text: string; tone?: string }>): void {
  const form = $<HTMLFormElement>(id);
  let key: string | undefined;
  let busy = false;
  form.addEventListener("input", () => (key = undefined));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    key ??= crypto.randomUUID();
    action(new FormData(form), key)
      .then(({ text, tone }) => {
        say(text, "", tone);
        key = undefined;
        form.reset();
      })
      .catch((error: unknown) => say("", errorText(error)))
      .finally(() => (busy = false));
  });
}

onSubmit("#key-form", async (form) => {
  sessionStorage.setItem(KEY_STORAGE, String(form.get("apiKey")).trim());
  await loadAccounts();
  return { text: "API key set for this tab." };
});

onSubmit("#create-account", async (form) => {
  const { account } = await accountsApi.createAccount({ displayName: String(form.get("displayName")), currency: String(form.get("currency")) });
  await loadAccounts();
  return { text: `Created account ${account!.displayName}.` };
});

onSubmit("#deposit", async (form, idempotencyKey) => {
  const account = accountOf(String(form.get("accountId")))!;
  const response = await accountsApi.depositFunds({
    idempotencyKey,
    accountId: account.accountId,
    amountCents: parseAmount(String(form.get("amount")), account.currency),
    currency: account.currency,
  });
  await refreshBalances(account.accountId);
  return { text: `Deposited ${formatAmount(response.deposit!.amountCents, account.currency)} to ${account.displayName}.` };
});

onSubmit("#pay", async (form, idempotencyKey) => {
  const payer = accountOf(String(form.get("payerAccountId")))!;
  const { payment } = await paymentsApi.authorizePayment({
    idempotencyKey,
    payerAccountId: payer.accountId,
    payeeAccountId: String(form.get("payeeAccountId")),
    amountCents: parseAmount(String(form.get("amount")), payer.currency),
    currency: payer.currency,
    description: String(form.get("description") ?? ""),
    captureMethod: form.get("captureMethod") === "MANUAL" ? CaptureMethod.MANUAL : CaptureMethod.AUTOMATIC,
  });
  showPayment(payment!);
  await refreshBalances(payment!.payerAccountId, payment!.payeeAccountId);
  if (payment!.status === PaymentStatus.DECLINED) {
    return { text: `Payment declined: ${DeclineReason[payment!.declineReason]}.`, tone: "declined" };
  }
  if (payment!.status === PaymentStatus.REQUIRES_CAPTURE) {
    return { text: `Held ${formatAmount(payment!.heldCents, payment!.currency)}: payment ${payment!.paymentId} awaits capture.` };
  }
  return { text: "Payment authorized." };
});

/** The payment a form names; its currency decides how the form's amount is read. */
const paymentOfForm = async (form: FormData) => (await paymentsApi.getPayment({ paymentId: String(form.get("paymentId")).trim() })).payment!;

onSubmit("#capture", async (form, idempotencyKey) => {
  const held = await paymentOfForm(form);
  const amount = String(form.get("amount") ?? "").trim();
  const { payment } = await paymentsApi.capturePayment({
    idempotencyKey,
    paymentId: held.paymentId,
    // Empty captures the whole hold (amount_cents 0).
    amountCents: amount === "" ? 0n : parseAmount(amount, held.currency),
  });
  showPayment(payment!);
  await refreshBalances(payment!.payerAccountId, payment!.payeeAccountId);
  return { text: `Captured ${formatAmount(payment!.capturedCents, payment!.currency)} of payment ${payment!.paymentId}.` };
});

onSubmit("#void", async (form, idempotencyKey) => {
  const { payment } = await paymentsApi.voidPayment({ idempotencyKey, paymentId: String(form.get("paymentId")).trim() });
  showPayment(payment!);
  await refreshBalances(payment!.payerAccountId, payment!.payeeAccountId);
  return { text: `Voided payment ${payment!.paymentId}; the hold is released.` };
});

onSubmit("#refund", async (form, idempotencyKey) => {
  const paid = await paymentOfForm(form);
  const { refund, payment } = await paymentsApi.refundPayment({
    idempotencyKey,
    paymentId: paid.paymentId,
    amountCents: parseAmount(String(form.get("amount")), paid.currency),
    reason: String(form.get("reason") ?? ""),
  });
  showPayment(payment!);
  await refreshBalances(payment!.payerAccountId, payment!.payeeAccountId);
  if (refund!.status === RefundStatus.DECLINED) {
    return { text: `Refund declined: ${DeclineReason[refund!.declineReason]}.`, tone: "declined" };
  }
  return { text: `Refunded ${formatAmount(refund!.amountCents, payment!.currency)} of payment ${payment!.paymentId}.` };
});

onSubmit("#payout", async (form, idempotencyKey) => {
  const account = accountOf(String(form.get("accountId")))!;
  const { withdrawal } = await accountsApi.withdrawFunds({
    idempotencyKey,
    accountId: account.accountId,
    amountCents: parseAmount(String(form.get("amount")), account.currency),
    currency: account.currency,
    reference: String(form.get("reference") ?? ""),
  });
  await refreshBalances(account.accountId);
  if (withdrawal!.status === WithdrawalStatus.DECLINED) {
    return { text: `Payout declined: ${DeclineReason[withdrawal!.declineReasonCode]}.`, tone: "declined" };
  }
  return { text: `Paid out ${formatAmount(withdrawal!.amountCents, account.currency)} from ${account.displayName}.` };
});

$("#api-url").textContent = baseUrl;
if (sessionStorage.getItem(KEY_STORAGE)) loadAccounts().catch((error: unknown) => say("", errorText(error)));
