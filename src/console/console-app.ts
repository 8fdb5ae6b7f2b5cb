/**
 * The console's browser code (bundled by console-routes.ts): a person creates accounts, deposits,
 * authorizes payments (automatic, or held for a manual capture), captures, voids, refunds, pays
 * out and reads statements, through the gRPC-Web transport of connect-web, the
 * same generated clients a backend uses. `?api=<origin>` points it at another server (CORS).
 *
 * The console signs in with an account token (minted by a backend, or `npm run account-token`),
 * never with an API key: a token acts only on the accounts it lists, with the scopes it was given,
 * for at most an hour (README, "Tenants, keys and tokens"). Nothing is kept in the tab but the
 * token: the accounts are the token's (GetAccount each), and the selected
 * account's statement and payments from ListAccountEntries and ListPayments, so a reload or another
 * client's writes show up; the selected account is followed live with WatchAccount and
 * WatchPayments (two streams: HTTP/1.1 allows a browser six connections per origin).
 *
 * What a person sees: each form's outcome (success, decline or error) right under that form,
 * scrolled into view; accounts named with their ids (two "Alice" accounts are told apart);
 * From and To of a payment different by default; a click (or Enter) on a payment fills the
 * capture, void and refund forms; every table says so when it is empty.
 */
import { ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AccountService, EntryCauseKind, StatementLineKind, WithdrawalStatus, type Account, type AccountEntry } from "../../gen/payment/v1/account_pb.js";
import { CaptureMethod, DeclineReason, PaymentService, PaymentStatus, RefundStatus, type Payment } from "../../gen/payment/v1/payment_pb.js";
import { formatAmount, parseAmount } from "./money.js";

const TOKEN_STORAGE = "payment-ledger-account-token";
const baseUrl = new URLSearchParams(location.search).get("api") ?? location.origin;
const $ = <T extends Element>(selector: string) => document.querySelector<T>(selector)!;

const withToken: Interceptor = (next) => (request) => {
  const token = sessionStorage.getItem(TOKEN_STORAGE);
  if (token) request.header.set("authorization", `Bearer ${token}`);
  return next(request);
};
const transport = createGrpcWebTransport({ baseUrl, interceptors: [withToken] });

/** What the console needs to know of a token (its payload, read without checking: the service checks). */
interface TokenClaims {
  acc: string[];
  scp: string[];
  exp: number;
}

/** The claims of a JWT-shaped string, undefined for anything else (an API key has no dots). */
function claimsOf(token: string): TokenClaims | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((part) => /^[A-Za-z0-9_-]+$/.test(part))) return undefined;
  try {
    const claims = JSON.parse(atob(parts[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as Partial<TokenClaims>;
    return Array.isArray(claims.acc) && Array.isArray(claims.scp) && typeof claims.exp === "number" ? (claims as TokenClaims) : undefined;
  } catch {
    return undefined;
  }
}
const accountsApi = createClient(AccountService, transport);
const paymentsApi = createClient(PaymentService, transport);

let accounts: Account[] = [];
/** Available and held balance of each account, as the API last reported them. */
const balances = new Map<string, { available: bigint; held: bigint }>();
let selected = "";
let watching: AbortController | undefined;

type Tone = "ok" | "declined" | "error" | "busy";

/** The outcome line under a form (made on first use): where that form's result is shown. */
function outcomeOf(form: HTMLFormElement): HTMLElement {
  let outcome = document.getElementById(`${form.id}-outcome`);
  if (!outcome) {
    outcome = document.createElement("p");
    outcome.id = `${form.id}-outcome`;
    outcome.className = "outcome";
    outcome.setAttribute("role", "status");
    form.after(outcome);
  }
  return outcome;
}

/** Shows a result where the person is looking: in `target`, scrolled into view. Errors are alerts. */
function report(target: HTMLElement, text: string, tone: Tone = "ok"): void {
  target.textContent = text;
  target.className = `outcome ${tone}`;
  target.setAttribute("role", tone === "error" ? "alert" : "status");
  target.scrollIntoView({ block: "nearest" });
}

/** A row that can be chosen with the mouse or the keyboard (Tab to it, Enter or Space). */
function choosable(row: HTMLTableRowElement, choose: () => void): void {
  row.tabIndex = 0;
  row.classList.add("choosable");
  row.addEventListener("click", choose);
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      choose();
    }
  });
}

/** Replaces a table's rows by one line saying why it is empty. */
function emptyState(body: HTMLTableSectionElement, text: string): void {
  const row = body.insertRow();
  row.className = "empty-state";
  const td = row.insertCell();
  td.colSpan = body.parentElement!.querySelectorAll("th").length;
  td.className = "empty";
  td.textContent = text;
}

function cell(row: HTMLTableRowElement, text: string, className = ""): void {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
}

const accountOf = (accountId: string) => accounts.find((a) => a.accountId === accountId);
const nameOf = (accountId: string) => accountOf(accountId)?.displayName ?? accountId;
/** How an account is named in choices: its name, currency and id, so equal names stay apart. */
const accountLabel = (account: Account) => `${account.displayName} (${account.currency}) · ${account.accountId}`;
const errorText = (error: unknown) => (error instanceof ConnectError ? error.message : String((error as Error).message ?? error));

function renderAccounts(): void {
  const body = $<HTMLTableElement>("#accounts").tBodies[0]!;
  const focused = (document.activeElement as HTMLElement | null)?.dataset?.accountId;
  body.replaceChildren();
  if (accounts.length === 0) emptyState(body, sessionStorage.getItem(TOKEN_STORAGE) ? "The token lists no account that could be read." : "Enter an account token above to see its accounts.");
  for (const account of accounts) {
    const row = body.insertRow();
    row.dataset.accountId = account.accountId;
    if (account.accountId === selected) row.classList.add("selected");
    cell(row, account.displayName);
    cell(row, account.accountId, "id");
    const balance = balances.get(account.accountId);
    cell(row, formatAmount(balance?.available ?? 0n, account.currency), "money");
    cell(row, formatAmount(balance?.held ?? 0n, account.currency), "money");
    choosable(row, () => void select(account.accountId));
    if (account.accountId === focused) row.focus();
  }
  for (const choice of Array.from(document.querySelectorAll<HTMLSelectElement>(".account-choice"))) {
    const chosen = choice.value;
    choice.replaceChildren(...accounts.map((a) => new Option(accountLabel(a), a.accountId)));
    if (chosen && accountOf(chosen)) choice.value = chosen;
  }
  keepPayeeApart();
}

/** Account choices start at the selected account (To: another one). */
function accountDefaults(): void {
  if (!selected) return;
  for (const choice of Array.from(document.querySelectorAll<HTMLSelectElement>(".account-choice"))) {
    if (choice.name !== "payeeAccountId") choice.value = selected;
  }
  keepPayeeApart();
}

/** To defaults to an account other than From (of the same currency when there is one). */
function keepPayeeApart(): void {
  const payer = $<HTMLSelectElement>('#pay [name="payerAccountId"]');
  const payee = $<HTMLSelectElement>('#pay [name="payeeAccountId"]');
  if (payee.value !== payer.value || accounts.length < 2) return;
  const currency = accountOf(payer.value)?.currency;
  const other = accounts.find((a) => a.accountId !== payer.value && a.currency === currency) ?? accounts.find((a) => a.accountId !== payer.value);
  if (other) payee.value = other.accountId;
}

/** The payment's payees: its own, or the payees of its splits. */
const payeesOf = (payment: Payment) => (payment.splits.length > 0 ? payment.splits.map((leg) => leg.payeeAccountId) : [payment.payeeAccountId]);

/** Who receives the payment: the payee's name, or each split payee with its part ("Shop 97.00 + Fees 3.00"). */
function payeeText(payment: Payment): string {
  if (payment.splits.length === 0) return nameOf(payment.payeeAccountId);
  return payment.splits.map((leg) => `${nameOf(leg.payeeAccountId)} ${formatAmount(leg.amountCents, payment.currency).split(" ")[0]}`).join(" + ");
}

/** A split payment's legs in detail: each payee's part, what reached it and what went back. */
function splitDetail(payment: Payment): string {
  return payment.splits
    .map((leg) => {
      const money = (cents: bigint) => formatAmount(cents, payment.currency);
      return `${nameOf(leg.payeeAccountId)} (${leg.payeeAccountId}): part ${money(leg.amountCents)}, received ${money(leg.capturedCents)}, refunded ${money(leg.refundedCents)}`;
    })
    .join("; ");
}

function paymentRow(payment: Payment): HTMLTableRowElement {
  const row = document.createElement("tr");
  row.dataset.paymentId = payment.paymentId;
  cell(row, payment.paymentId, "id");
  cell(row, nameOf(payment.payerAccountId));
  row.cells[1]!.title = payment.payerAccountId;
  cell(row, payeeText(payment));
  row.cells[2]!.title = payment.splits.length > 0 ? splitDetail(payment) : payment.payeeAccountId;
  cell(row, formatAmount(payment.amountCents, payment.currency), "money");
  const status = PaymentStatus[payment.status];
  const reason = payment.declineReason ? ` (${DeclineReason[payment.declineReason]})` : "";
  cell(row, status + reason, status);
  cell(row, formatAmount(payment.heldCents, payment.currency), "money");
  cell(row, formatAmount(payment.capturedCents, payment.currency), "money");
  cell(row, formatAmount(payment.refundedCents, payment.currency), "money");
  cell(row, metadataText(payment.metadata));
  if (payment.paymentId === chosenPayment) row.classList.add("selected");
  choosable(row, () => choosePayment(payment));
  return row;
}

let chosenPayment = "";

/** Fills the capture, void and refund forms with a payment, and says what can be done with it. */
function choosePayment(payment: Payment): void {
  chosenPayment = payment.paymentId;
  for (const row of Array.from(document.querySelectorAll<HTMLTableRowElement>("#payments tbody tr"))) {
    row.classList.toggle("selected", row.dataset.paymentId === payment.paymentId);
  }
  for (const form of ["#capture", "#void", "#refund"]) {
    const input = $<HTMLInputElement>(`${form} [name="paymentId"]`);
    input.value = payment.paymentId;
    // A new payment in a form is a new request: the form's idempotency key is renewed.
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }
  report($("#payment-outcome"), describeChoice(payment));
  const next = payment.status === PaymentStatus.REQUIRES_CAPTURE ? "#capture" : "#refund";
  $<HTMLInputElement>(`${next} [name="amount"]`).focus();
}

/** What can be done with the chosen payment now; also sets the amount fields' hints. */
function describeChoice(payment: Payment): string {
  const refundable = (payment.status === PaymentStatus.CAPTURED ? payment.capturedCents : payment.amountCents) - payment.refundedCents;
  $<HTMLInputElement>('#capture [name="amount"]').placeholder = `all (${formatAmount(payment.heldCents, payment.currency)})`;
  $<HTMLInputElement>('#refund [name="amount"]').placeholder = formatAmount(refundable, payment.currency).split(" ")[0]!;
  const status = PaymentStatus[payment.status];
  const what =
    payment.status === PaymentStatus.REQUIRES_CAPTURE
      ? `holds ${formatAmount(payment.heldCents, payment.currency)}: capture or void it`
      : payment.status === PaymentStatus.AUTHORIZED || payment.status === PaymentStatus.CAPTURED
        ? `${formatAmount(refundable, payment.currency)} can be refunded`
        : "nothing more can be done with it";
  const split = payment.splits.length > 0 ? ` Split: ${splitDetail(payment)}.` : "";
  return `Payment ${payment.paymentId} (${status}, ${nameOf(payment.payerAccountId)} to ${payeeText(payment)}) ${what}.${split}`;
}

/** Whether a payment belongs in the payments table: it involves the selected account. */
const ofSelected = (payment: Payment) => selected !== "" && (payment.payerAccountId === selected || payeesOf(payment).includes(selected));

/** Shows a payment of the selected account: replaces its row when listed (a capture, void or refund changed it), else adds it at the top. */
function showPayment(payment: Payment): void {
  if (!ofSelected(payment)) return;
  const body = $<HTMLTableElement>("#payments").tBodies[0]!;
  body.querySelector("tr.empty-state")?.remove();
  const listed = body.querySelector(`tr[data-payment-id="${payment.paymentId}"]`);
  if (listed) listed.replaceWith(paymentRow(payment));
  else body.prepend(paymentRow(payment));
  // The chosen payment changed (captured, refunded): what the forms say about it follows.
  if (payment.paymentId === chosenPayment) $("#payment-outcome").textContent = describeChoice(payment);
}

/** Metadata as the console shows and takes it: "key=value, key=value" (keys sorted). */
function metadataText(metadata: Record<string, string>): string {
  return Object.keys(metadata).sort().map((key) => `${key}=${metadata[key]}`).join(", ");
}

/** "order=A-1, channel=web" as a map; the service checks the limits (50 keys, 40 and 500 characters). */
function parseMetadata(text: string): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const pair of text.split(",").map((p) => p.trim()).filter((p) => p !== "")) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new Error(`metadata must look like key=value, key=value; got "${pair}"`);
    metadata[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return metadata;
}

/** The selected account's payments, newest first (or why there are none). */
async function loadPayments(): Promise<void> {
  const body = $<HTMLTableElement>("#payments").tBodies[0]!;
  if (!selected) {
    body.replaceChildren();
    emptyState(body, "Select an account above to see its payments.");
    return;
  }
  const { payments } = await paymentsApi.listPayments({ accountId: selected, pageSize: 50 });
  body.replaceChildren(...payments.map(paymentRow));
  if (payments.length === 0) emptyState(body, `No payments of ${nameOf(selected)} yet: authorize one above.`);
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
  const claims = claimsOf(sessionStorage.getItem(TOKEN_STORAGE) ?? "");
  const loaded = await Promise.all((claims?.acc ?? []).map((accountId) => accountsApi.getAccount({ accountId })));
  // In id order, as ListAccounts gives them.
  accounts = loaded.map((response) => response.account!).sort((a, b) => (a.accountId < b.accountId ? -1 : 1));
  await refreshBalances(...accounts.map((a) => a.accountId));
  if (!selected) {
    const body = $<HTMLTableElement>("#statement").tBodies[0]!;
    body.replaceChildren();
    emptyState(body, "Select an account above to see its statement.");
    await loadPayments();
  }
}

/**
 * Shows an account's statement and payments and follows them live until another is selected;
 * resolves once both are listed.
 */
async function select(accountId: string): Promise<void> {
  watching?.abort();
  const watch = (watching = new AbortController());
  selected = accountId;
  renderAccounts();
  accountDefaults();
  const account = accountOf(accountId)!;
  $("#statement-title").textContent = `Statement of ${account.displayName}`;
  $("#payments-title").textContent = `Payments of ${account.displayName}`;
  $("#statement-outcome").textContent = "";
  const body = $<HTMLTableElement>("#statement").tBodies[0]!;
  body.replaceChildren();
  emptyState(body, "Loading the statement...");
  // The watch starts first and the statement is read once it has taken its position, so no line
  // falls between the two; a line both read and streamed is shown once.
  let listed: Promise<void> | undefined;
  const seen = new Set<string>();
  const show = (entry: AccountEntry, first: boolean) => {
    const key = lineKey(entry);
    if (seen.has(key)) return;
    seen.add(key);
    body.querySelector("tr.empty-state")?.remove();
    const row = entryRow(entry, account.currency);
    if (first) body.prepend(row);
    else body.append(row);
  };
  let shown!: () => void;
  const listedOnce = new Promise<void>((resolve) => (shown = resolve));
  void (async () => {
    for await (const change of accountsApi.watchAccount({ accountId }, { signal: watch.signal })) {
      // Payments too, now that the streams are open: none made meanwhile is missed.
      listed ??= Promise.all([
        accountsApi.listAccountEntries({ accountId, newestFirst: true, pageSize: 50 }).then(({ entries }) => {
          body.querySelector("tr.empty-state")?.remove();
          for (const entry of entries) show(entry, false);
          if (seen.size === 0) emptyState(body, `No statement lines of ${account.displayName} yet: deposit to it above.`);
        }),
        loadPayments(),
      ]).then(() => shown());
      await listed;
      balances.set(accountId, { available: change.availableBalanceCents, held: change.heldBalanceCents });
      renderAccounts();
      if (change.entry) show(change.entry, true);
    }
  })()
    .catch((error: unknown) => watch.signal.aborted || report($("#statement-outcome"), `statement updates stopped: ${errorText(error)}`, "error"))
    .finally(() => shown());
  void (async () => {
    for await (const { payment } of paymentsApi.watchPayments({ accountId }, { signal: watch.signal })) {
      if (payment) showPayment(payment);
      const others = payment ? [payment.payerAccountId, ...payeesOf(payment)].filter((id) => id !== accountId && accountOf(id)) : [];
      if (others.length > 0) await refreshBalances(...others);
    }
  })().catch((error: unknown) => watch.signal.aborted || report($("#statement-outcome"), `payment updates stopped: ${errorText(error)}`, "error"));
  await listedOnce;
}

/**
 * Runs a form's action. One idempotency key per submitted form: kept while the same values are
 * retried (after an error, or a second click while the first is in flight, which is ignored), a
 * new one once a field changes; the form resets after success.
 */
function onSubmit(id: string, action: (form: FormData, idempotencyKey: string) => Promise<{ text: string; tone?: Tone }>): void {
  const form = $<HTMLFormElement>(id);
  const outcome = outcomeOf(form);
  let key: string | undefined;
  let busy = false;
  form.addEventListener("input", () => (key = undefined));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    key ??= crypto.randomUUID();
    report(outcome, "Working...", "busy");
    action(new FormData(form), key)
      .then(({ text, tone }) => {
        report(outcome, text, tone);
        key = undefined;
        form.reset();
        accountDefaults();
        keepPayeeApart();
      })
      .catch((error: unknown) => report(outcome, errorText(error), "error"))
      .finally(() => (busy = false));
  });
}

// Payments of any account with every given metadata pair (ListPayments' metadata filter), newest first.
onSubmit("#search", async (form) => {
  const metadata = parseMetadata(String(form.get("metadata")));
  // A token reads only its accounts' payments: the search is within the selected account.
  if (!selected) throw new Error("select an account above first: the search is within its payments");
  const { payments } = await paymentsApi.listPayments({ accountId: selected, metadata, pageSize: 50 });
  const body = $<HTMLTableElement>("#payments").tBodies[0]!;
  body.replaceChildren(...payments.map(paymentRow));
  $("#payments-title").textContent = `Payments with ${metadataText(metadata)}`;
  if (payments.length === 0) emptyState(body, `No payment has ${metadataText(metadata)}.`);
  return { text: `${payments.length} payment${payments.length === 1 ? "" : "s"} with ${metadataText(metadata)}${payments.length === 50 ? " (the newest 50)" : ""}.` };
});

onSubmit("#token-form", async (form) => {
  const token = String(form.get("token")).trim();
  const claims = claimsOf(token);
  if (!claims) {
    throw new Error("this is not an account token: the console never takes an API key. Mint a token with npm run account-token -- --accounts <ids> --scopes read,accounts:write,payments:write");
  }
  sessionStorage.setItem(TOKEN_STORAGE, token);
  selected = "";
  await loadAccounts();
  const until = new Date(claims.exp * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return { text: `Account token set for this tab: ${claims.acc.length} account${claims.acc.length === 1 ? "" : "s"}, ${claims.scp.join(", ")}, until ${until}.` };
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
    metadata: parseMetadata(String(form.get("metadata") ?? "")),
  });
  // Nothing selected yet: follow the payer, so the payment shows up in its list.
  if (!selected) await select(payer.accountId);
  showPayment(payment!);
  await refreshBalances(payment!.payerAccountId, ...payeesOf(payment!));
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
  await refreshBalances(payment!.payerAccountId, ...payeesOf(payment!));
  return { text: `Captured ${formatAmount(payment!.capturedCents, payment!.currency)} of payment ${payment!.paymentId}.` };
});

onSubmit("#void", async (form, idempotencyKey) => {
  const { payment } = await paymentsApi.voidPayment({ idempotencyKey, paymentId: String(form.get("paymentId")).trim() });
  showPayment(payment!);
  await refreshBalances(payment!.payerAccountId, ...payeesOf(payment!));
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
  await refreshBalances(payment!.payerAccountId, ...payeesOf(payment!));
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

$<HTMLSelectElement>('#pay [name="payerAccountId"]').addEventListener("change", keepPayeeApart);
$("#api-url").textContent = baseUrl;
renderAccounts();
emptyState($<HTMLTableElement>("#statement").tBodies[0]!, "Select an account above to see its statement.");
emptyState($<HTMLTableElement>("#payments").tBodies[0]!, "Select an account above to see its payments.");
if (sessionStorage.getItem(TOKEN_STORAGE)) loadAccounts().catch((error: unknown) => report(outcomeOf($("#token-form")), errorText(error), "error"));
