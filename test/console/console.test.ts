/**
 * The console in real headless Chromium (Debian's, driven by playwright-core): what a person
 * sees when signing in with an account token (never an API key), depositing and paying, with and
 * without a valid token, from the service's own origin and from another origin through CORS.
 * Accounts are made by a backend (curl with the key here); the page gets a token for them. Each form's outcome is read where
 * the person sees it: the line right under that form (`#<form>-outcome`), checked to be in view.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { promisify } from "node:util";
import { after, before, it } from "node:test";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { testKey } from "../support/api-keys.js";
import { tamper, testSigningKey } from "../support/account-tokens.js";
import { freePort } from "../support/process.js";
import { startTestService, type TestService } from "../support/service.js";

/** Screenshots of each scenario, kept as test artifacts (git-ignored). */
const ARTIFACTS = "test-results/console";
mkdirSync(ARTIFACTS, { recursive: true });
const run = promisify(execFile);
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const key = testKey("console");
let svc: TestService;
let browser: Browser;
let port: number;

before(async () => {
  port = await freePort();
  // Pages served from http://localhost:<port> may call the API at 127.0.0.1 (another origin).
  svc = await startTestService({
    PORT: String(port),
    AUTH_DISABLED: "false",
    API_KEYS: key.entry,
    TOKEN_SIGNING_KEYS: testSigningKey("console").entry,
    CORS_ORIGINS: `http://localhost:${port}`,
  });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
});
after(async () => {
  await browser?.close();
  await svc?.stop();
});

/**
 * Picks an option of a select by its text; an account is named "Alice (USD) · <id>", and "Alice
 * (USD)" picks the first such account.
 */
async function choose(field: Locator, text: string): Promise<void> {
  const value = await field.evaluate(
    (el, wanted) => Array.from((el as HTMLSelectElement).options).find((o) => o.text === wanted || o.text.startsWith(`${wanted} · `))?.value,
    text,
  );
  assert.ok(value, `an option "${text}"`);
  await field.selectOption(value);
}

async function submit(page: Page, form: string, fields: Record<string, string>, button: string): Promise<void> {
  for (const [label, value] of Object.entries(fields)) {
    const field = page.locator(form).getByLabel(label);
    if ((await field.evaluate((el) => el.tagName)) === "SELECT") await choose(field, value);
    else await field.fill(value);
  }
  await page.locator(form).getByRole("button", { name: button }).click();
}

/** The outcome line under a form: where its success, decline or error is shown. */
const outcome = (page: Page, form: string) => page.locator(`${form}-outcome`);

/** Waits until the outcome under `form` says `text`, and checks it is in view, not 1,000 px away. */
async function said(page: Page, form: string, text: string | RegExp, tone: "ok" | "declined" | "error" = "ok"): Promise<void> {
  const line = outcome(page, form);
  await line.getByText(text).waitFor().catch(async (error: Error) => {
    throw new Error(`${form}: waited for ${String(text)}, it says "${await line.textContent()}"\n${error.message}`);
  });
  assert.equal(await line.getAttribute("class"), `outcome ${tone}`, `${form}: ${await line.textContent()}`);
  assert.equal(await line.getAttribute("role"), tone === "error" ? "alert" : "status");
  assert.ok(await inView(line), `${form}'s outcome is in view`);
}

/**
 * Whether an element is wholly inside the visible part of the page. Layout is in fractions of a
 * pixel (labels of .8rem), so an element scrolled to the bottom edge may end up to a pixel below it.
 */
const inView = (locator: Locator) =>
  locator.evaluate((el) => {
    const box = el.getBoundingClientRect();
    return box.height > 0 && box.top >= -1 && box.bottom <= window.innerHeight + 1;
  });

const rows = (page: Page, table: string) =>
  page.locator(`${table} tbody tr`).evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td"), (td) => td.textContent)));

it("a person signs in with an account token, deposits and pays; balances and outcomes show up", async () => {
  const page = await browser.newPage();
  await page.goto(`${svc.url}/console`);
  await assert.doesNotReject(page.getByRole("heading", { name: "Payment ledger console" }).waitFor());

  // Before a token: every table says why it is empty.
  assert.deepEqual(await rows(page, "#accounts"), [["Enter an account token above to see its accounts."]]);
  assert.deepEqual(await rows(page, "#statement"), [["Select an account above to see its statement."]]);
  assert.deepEqual(await rows(page, "#payments"), [["Select an account above to see its payments."]]);

  // The page never takes an API key; a token the service did not sign is refused by the service.
  await submit(page, "#token-form", { "Account token": key.key }, "Use token");
  await said(page, "#token-form", /^this is not an account token: the console never takes an API key/, "error");
  const [alice, bob] = await accountsMade([["Alice", "USD"], ["Bob", "USD"]]);
  const forged = tamper(await tokenFor([alice!, bob!]), (payload) => (payload.scp = ["read", "accounts:write", "payments:write", "accounts:admin"]));
  await submit(page, "#token-form", { "Account token": forged }, "Use token");
  await said(page, "#token-form", "[unauthenticated] invalid account token", "error");

  await submit(page, "#token-form", { "Account token": await tokenFor([alice!, bob!]) }, "Use token");
  await said(page, "#token-form", /^Account token set for this tab: 2 accounts, read, accounts:write, payments:write, until /);
  assert.deepEqual((await rows(page, "#accounts")).map(([name]) => name), ["Alice", "Bob"]);
  assert.equal(await page.getByRole("alert").count(), 0, "no error is left on the page");

  await submit(page, "#deposit", { Account: "Alice (USD)", Amount: "100.00" }, "Deposit");
  await said(page, "#deposit", "Deposited 100.00 USD to Alice.");

  await submit(page, "#pay", { From: "Alice (USD)", To: "Bob (USD)", Amount: "30.5", Description: "lunch" }, "Authorize payment");
  await said(page, "#pay", "Payment authorized.");
  await submit(page, "#pay", { From: "Alice (USD)", To: "Bob (USD)", Amount: "500.00" }, "Authorize payment");
  await said(page, "#pay", "Payment declined: INSUFFICIENT_FUNDS.", "declined");
  // The payer is followed once it paid: its statement and payments show.
  await page.getByRole("heading", { name: "Payments of Alice" }).waitFor();

  const accounts = await rows(page, "#accounts");
  assert.deepEqual(accounts.map(([name, , balance]) => [name, balance]), [
    ["Alice", "69.50 USD"],
    ["Bob", "30.50 USD"],
  ]);
  const payments = await rows(page, "#payments");
  assert.deepEqual(payments.map(([, from, to, amount, status]) => [from, to, amount, status]), [
    ["Alice", "Bob", "500.00 USD", "DECLINED (INSUFFICIENT_FUNDS)"],
    ["Alice", "Bob", "30.50 USD", "AUTHORIZED"],
  ]);

  // Metadata on a payment shows in its row, and a search by it finds it among every account's payments.
  await submit(page, "#pay", { From: "Alice (USD)", To: "Bob (USD)", Amount: "1.00", Metadata: "order=A-1, channel=web" }, "Authorize payment");
  await said(page, "#pay", "Payment authorized.");
  await page.locator("#payments tbody tr", { hasText: "channel=web, order=A-1" }).waitFor();
  await submit(page, "#pay", { From: "Alice (USD)", To: "Bob (USD)", Amount: "1.00", Metadata: "no pair" }, "Authorize payment");
  await said(page, "#pay", 'metadata must look like key=value, key=value; got "no pair"', "error");
  await submit(page, "#search", { "Find the selected account's payments by metadata": "order=A-1" }, "Search");
  await said(page, "#search", "1 payment with order=A-1.");
  await page.getByRole("heading", { name: "Payments with order=A-1" }).waitFor();
  assert.deepEqual((await rows(page, "#payments")).map(([, from, to, amount, , , , , metadata]) => [from, to, amount, metadata]), [
    ["Alice", "Bob", "1.00 USD", "channel=web, order=A-1"],
  ]);
  await submit(page, "#search", { "Find the selected account's payments by metadata": "order=nothing" }, "Search");
  await said(page, "#search", "0 payments with order=nothing.");

  await submit(page, "#deposit", { Account: "Bob (USD)", Amount: "12.345" }, "Deposit");
  await said(page, "#deposit", 'amount must look like 12.34 for USD, got "12.345"', "error");
  await page.screenshot({ path: `${ARTIFACTS}/payments.png`, fullPage: true });
  await page.close();
});

it("from an allowed origin the console works through CORS; from another origin the browser blocks it", async () => {
  const [carol] = await accountsMade([["Carol", "EUR"]]);
  const token = await tokenFor([carol!]);
  const allowed = await browser.newPage();
  await allowed.goto(`http://localhost:${port}/console?api=http://127.0.0.1:${port}`);
  await submit(allowed, "#token-form", { "Account token": token }, "Use token");
  await said(allowed, "#token-form", /^Account token set for this tab: 1 account,/);
  await submit(allowed, "#deposit", { Account: "Carol (EUR)", Amount: "3.00" }, "Deposit");
  await said(allowed, "#deposit", "Deposited 3.00 EUR to Carol.");
  await allowed.close();

  // Calls that reached the API (a refused preflight is logged too, as "rpc refused").
  const reads = () => svc.logs.filter((l) => l.procedure === "payment.v1.AccountService/GetAccount" && l.msg !== "rpc refused").length;
  const before = reads();
  const blocked = await browser.newPage();
  await blocked.goto(`http://127.0.0.1:${port}/console?api=http://localhost:${port}`);
  await submit(blocked, "#token-form", { "Account token": token }, "Use token");
  // Chromium hides why (CORS); fetch only fails, and nothing reached the ledger.
  await said(blocked, "#token-form", "[unknown] Failed to fetch", "error");
  assert.equal(reads(), before, "the preflight failed, so the call was never sent");
  await blocked.close();
});

/** A page signed in with a token for `accountIds`; records every 404 the page's requests get. */
async function signedInPage(accountIds: string[]): Promise<{ page: Page; notFound: string[] }> {
  const page = await browser.newPage();
  const notFound: string[] = [];
  page.on("response", (response) => void (response.status() === 404 && notFound.push(response.url())));
  await page.goto(`${svc.url}/console`);
  await submit(page, "#token-form", { "Account token": await tokenFor(accountIds) }, "Use token");
  await said(page, "#token-form", /^Account token set for this tab/);
  return { page, notFound };
}

/** Accounts a backend made (with the key), in order: their ids. */
async function accountsMade(accounts: [displayName: string, currency: string][]): Promise<string[]> {
  const ids: string[] = [];
  for (const [displayName, currency] of accounts) ids.push((await curl("payment.v1.AccountService/CreateAccount", { currency, displayName })).account.accountId as string);
  return ids;
}

/** What the documented step (npm run account-token) does: MintAccountToken with the key. */
async function tokenFor(accountIds: string[]): Promise<string> {
  return (await curl("payment.v1.AccountService/MintAccountToken", { accountIds, scopes: ["read", "accounts:write", "payments:write"] })).token as string;
}

const curl = (method: string, body: unknown) =>
  run("curl", ["-sS", "-X", "POST", `${svc.url}/${method}`, "-H", "Content-Type: application/json", "-H", `Authorization: Bearer ${key.key}`, "-d", JSON.stringify(body)])
    .then(({ stdout }) => JSON.parse(stdout) as Record<string, any>);

it("minor units follow the currency (JPY 0 decimals, BHD 3); a double-click moves money once", async () => {
  const { page, notFound } = await signedInPage(await accountsMade([["Yuki", "JPY"], ["Bahrain", "BHD"]]));

  await submit(page, "#deposit", { Account: "Yuki (JPY)", Amount: "500" }, "Deposit");
  await said(page, "#deposit", "Deposited 500 JPY to Yuki.");
  await submit(page, "#deposit", { Account: "Bahrain (BHD)", Amount: "1.234" }, "Deposit");
  await said(page, "#deposit", "Deposited 1.234 BHD to Bahrain.");
  const yuki = (await rows(page, "#accounts")).find(([name]) => name === "Yuki")!;
  assert.equal(yuki[2], "500 JPY");
  const yukiId = yuki[1]!;
  assert.equal((await curl("payment.v1.PaymentService/GetAccountBalance", { accountId: yukiId })).availableBalanceCents, "500");

  // Double-click: the second submit of the same form reuses the first one's idempotency key.
  await choose(page.locator("#deposit").getByLabel("Account"), "Yuki (JPY)");
  await page.locator("#deposit").getByLabel("Amount").fill("7");
  await page.locator("#deposit").getByRole("button", { name: "Deposit" }).dblclick();
  await said(page, "#deposit", "Deposited 7 JPY to Yuki.");
  assert.equal(await page.locator("#deposit").getByLabel("Amount").inputValue(), "", "the form resets after success");
  const statement = await curl("payment.v1.AccountService/ListAccountEntries", { accountId: yukiId });
  assert.deepEqual(statement.entries.map((e: { amountCents: string }) => e.amountCents), ["500", "7"], "one deposit of 7, not two");
  await page.screenshot({ path: `${ARTIFACTS}/minor-units.png`, fullPage: true });
  assert.deepEqual(notFound, [], "no request of the page ended in 404 (favicon included)");
  await page.close();
});

it("accounts and payments made elsewhere show up: after a reload, and live in the selected account's statement", async () => {
  const a = (await curl("payment.v1.AccountService/CreateAccount", { currency: "EUR", displayName: "Made with curl" })).account.accountId as string;
  const b = (await curl("payment.v1.AccountService/CreateAccount", { currency: "EUR", displayName: "Curl payee" })).account.accountId as string;
  await curl("payment.v1.AccountService/DepositFunds", { idempotencyKey: "console-curl-dep", accountId: a, amountCents: "1000", currency: "EUR" });

  const { page } = await signedInPage([a, b]);
  await page.reload(); // the token stays in the tab; everything else comes from the API again
  await page.locator("#accounts tbody tr", { hasText: "Made with curl" }).waitFor();
  await page.locator("#accounts tbody tr", { hasText: "Made with curl" }).click();
  await page.getByRole("heading", { name: "Statement of Made with curl" }).waitFor();
  await page.locator("#statement tbody tr", { hasText: "DEPOSIT" }).waitFor();

  const paid = await curl("payment.v1.PaymentService/AuthorizePayment", {
    idempotencyKey: "console-curl-pay", payerAccountId: a, payeeAccountId: b, amountCents: "250", currency: "EUR", description: "from curl",
  });
  const paymentId = paid.payment.paymentId as string;
  // No reload: the watch streams bring the entry and the payment.
  await page.locator("#statement tbody tr", { hasText: paymentId }).waitFor();
  await page.locator("#payments tbody tr", { hasText: paymentId }).waitFor();
  const [latest] = await rows(page, "#statement");
  assert.deepEqual(latest!.slice(2), ["ENTRY", `PAYMENT ${paymentId}`, "-2.50 EUR", "10.00 EUR", "7.50 EUR", "7.50 EUR"]);
  await page.locator("#accounts tbody tr", { hasText: "7.50 EUR" }).waitFor();
  await page.screenshot({ path: `${ARTIFACTS}/live-statement.png`, fullPage: true });
  await page.close();
});

it("a hold, a partial capture, a partial refund and a payout: balances, payment and statement follow", async () => {
  const { page } = await signedInPage(await accountsMade([["Dana", "USD"], ["Shop", "USD"]]));
  await submit(page, "#deposit", { Account: "Dana (USD)", Amount: "100.00" }, "Deposit");
  await said(page, "#deposit", "Deposited 100.00 USD to Dana.");
  const balancesShown = async () =>
    Object.fromEntries((await rows(page, "#accounts")).filter(([name]) => name === "Dana" || name === "Shop").map(([name, , available, held]) => [name, [available, held]]));

  await submit(page, "#pay", { From: "Dana (USD)", To: "Shop (USD)", Amount: "40.00", Capture: "Hold, capture later" }, "Authorize payment");
  await said(page, "#pay", /^Held 40\.00 USD: payment \w+ awaits capture\.$/);
  const paymentId = (await outcome(page, "#pay").textContent())!.match(/payment (\w+)/)![1]!;
  assert.deepEqual(await balancesShown(), { Dana: ["60.00 USD", "40.00 USD"], Shop: ["0.00 USD", "0.00 USD"] });

  await submit(page, "#capture", { "Payment id": paymentId, "Amount to capture": "25.00" }, "Capture");
  await said(page, "#capture", `Captured 25.00 USD of payment ${paymentId}.`);
  assert.deepEqual(await balancesShown(), { Dana: ["75.00 USD", "0.00 USD"], Shop: ["25.00 USD", "0.00 USD"] }, "the rest of the hold is released");

  await submit(page, "#refund", { "Payment id": paymentId, "Amount to refund": "10.00", Reason: "one item back" }, "Refund");
  await said(page, "#refund", `Refunded 10.00 USD of payment ${paymentId}.`);
  assert.deepEqual(await balancesShown(), { Dana: ["85.00 USD", "0.00 USD"], Shop: ["15.00 USD", "0.00 USD"] });
  const [payment] = (await rows(page, "#payments")).filter(([id]) => id === paymentId);
  assert.deepEqual(payment!.slice(3, 8), ["40.00 USD", "CAPTURED", "0.00 USD", "25.00 USD", "10.00 USD"]);

  // A refund beyond what is left of the capture changes nothing and says so.
  await submit(page, "#refund", { "Payment id": paymentId, "Amount to refund": "20.00" }, "Refund");
  await said(page, "#refund", /\[failed_precondition\]/, "error");
  assert.deepEqual(await balancesShown(), { Dana: ["85.00 USD", "0.00 USD"], Shop: ["15.00 USD", "0.00 USD"] });

  await submit(page, "#payout", { Account: "Shop (USD)", Amount: "5.00", Reference: "bank 42" }, "Pay out");
  await said(page, "#payout", "Paid out 5.00 USD from Shop.");
  assert.deepEqual(await balancesShown(), { Dana: ["85.00 USD", "0.00 USD"], Shop: ["10.00 USD", "0.00 USD"] });
  await submit(page, "#payout", { Account: "Shop (USD)", Amount: "50.00" }, "Pay out");
  await said(page, "#payout", "Payout declined: INSUFFICIENT_FUNDS.", "declined");

  // Dana's statement explains every change of her available balance, holds included.
  await page.locator("#accounts tbody tr", { hasText: "Dana" }).click();
  await page.getByRole("heading", { name: "Statement of Dana" }).waitFor();
  await page.locator("#statement tbody tr", { hasText: "REFUND" }).waitFor();
  const statement = await rows(page, "#statement");
  assert.deepEqual(statement.map((r) => [r[0], r[2], r[3]!.split(" ")[0], r[4], r[5], r[6], r[7]]), [
    ["5", "ENTRY", "REFUND", "10.00 USD", "75.00 USD", "85.00 USD", "85.00 USD"],
    ["4", "ENTRY", "CAPTURE", "-25.00 USD", "100.00 USD", "75.00 USD", "75.00 USD"],
    ["3", "RELEASED", "PAYMENT", "40.00 USD", "60.00 USD", "100.00 USD", "100.00 USD"],
    ["2", "HELD", "PAYMENT", "-40.00 USD", "100.00 USD", "60.00 USD", "100.00 USD"],
    ["1", "ENTRY", "DEPOSIT", "100.00 USD", "0.00 USD", "100.00 USD", "100.00 USD"],
  ]);
  await page.screenshot({ path: `${ARTIFACTS}/lifecycle.png`, fullPage: true });
  await page.close();
});

it("as a person uses it: ids tell equal names apart, From and To differ, a chosen payment fills the forms, errors show in view, all by keyboard", async () => {
  const { page } = await signedInPage(await accountsMade([["Twin", "USD"], ["Twin", "USD"], ["Shop Two", "USD"]]));
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.locator("#accounts tbody tr", { hasText: "Twin" }).nth(1).waitFor();
  const twins = (await rows(page, "#accounts")).filter(([name]) => name === "Twin").map(([, id]) => id!);
  assert.equal(twins.length, 2);
  // The choices name each account with its id: the second Twin can be picked.
  const labels = await page.locator("#deposit").getByLabel("Account").locator("option").allTextContents();
  for (const id of twins) assert.ok(labels.includes(`Twin (USD) · ${id}`), labels.join("\n"));
  await choose(page.locator("#deposit").getByLabel("Account"), `Twin (USD) · ${twins[1]}`);
  await page.locator("#deposit").getByLabel("Amount").fill("50.00");
  await page.locator("#deposit").getByLabel("Amount").press("Enter");
  await said(page, "#deposit", "Deposited 50.00 USD to Twin.");
  const balanceOf = async (id: string) => (await rows(page, "#accounts")).find(([, accountId]) => accountId === id)![2];
  assert.equal(await balanceOf(twins[1]!), "50.00 USD");
  assert.equal(await balanceOf(twins[0]!), "0.00 USD");

  // Keyboard: Tab to the second Twin's row and press Enter to select it.
  const twinRow = page.locator(`#accounts tbody tr[data-account-id="${twins[1]}"]`);
  await twinRow.focus();
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Statement of Twin" }).waitFor();
  assert.ok((await twinRow.getAttribute("class"))!.split(" ").includes("selected"), "the row shows it is selected");
  // An account without payments or statement lines says so.
  await page.locator("#payments tbody tr", { hasText: "No payments of Twin yet: authorize one above." }).waitFor();
  assert.equal(await page.locator("#payments tbody tr").count(), 1);
  // From is the selected account, To another one.
  const payer = page.locator("#pay").getByLabel("From");
  const payee = page.locator("#pay").getByLabel("To");
  assert.equal(await payer.inputValue(), twins[1]);
  assert.notEqual(await payee.inputValue(), await payer.inputValue(), "From and To differ by default");
  await choose(payee, "Shop Two (USD)");

  await page.locator("#pay").getByLabel("Amount").fill("20.00");
  await page.locator("#pay").getByLabel("Capture").selectOption("MANUAL");
  await page.locator("#pay").getByLabel("Amount").press("Enter");
  await said(page, "#pay", /^Held 20\.00 USD: payment \w+ awaits capture\.$/);
  assert.equal(await payee.inputValue() !== (await payer.inputValue()), true, "after the reset too");
  const heldId = (await outcome(page, "#pay").textContent())!.match(/payment (\w+)/)![1]!;
  const paymentRows = await rows(page, "#payments");
  assert.deepEqual(paymentRows.map(([id]) => id), [heldId], "only the selected account's payments are listed");

  // Choose the payment with the keyboard: the forms below are filled, the capture amount has focus.
  await page.locator(`#payments tbody tr[data-payment-id="${heldId}"]`).focus();
  await page.keyboard.press("Enter");
  await said(page, "#payment", new RegExp(`^Payment ${heldId} \\(REQUIRES_CAPTURE, Twin to Shop Two\\) holds 20\\.00 USD: capture or void it\\.$`));
  for (const form of ["#capture", "#void", "#refund"]) assert.equal(await page.locator(form).getByLabel("Payment id").inputValue(), heldId, form);
  assert.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement).closest("form")?.id), "capture");
  await page.screenshot({ path: `${ARTIFACTS}/payment-chosen.png` });
  await page.keyboard.type("15.00");
  await page.keyboard.press("Enter");
  await said(page, "#capture", `Captured 15.00 USD of payment ${heldId}.`);
  // What the forms say about the chosen payment follows the capture.
  await said(page, "#payment", /CAPTURED, Twin to Shop Two\) 15\.00 USD can be refunded\.$/);

  // A refund of more than was captured: the error is under the refund form, on screen.
  await page.locator(`#payments tbody tr[data-payment-id="${heldId}"]`).click();
  await said(page, "#payment", /CAPTURED, Twin to Shop Two\) 15\.00 USD can be refunded\.$/);
  assert.equal(await page.locator("#refund").getByLabel("Amount to refund").getAttribute("placeholder"), "15.00");
  await page.locator("#refund").getByLabel("Amount to refund").fill("99.00");
  await page.locator("#refund").getByLabel("Amount to refund").press("Enter");
  await said(page, "#refund", /^\[failed_precondition\] .*refund/i, "error");
  await page.screenshot({ path: `${ARTIFACTS}/refund-error-in-view.png` });
  const [payment] = await rows(page, "#payments");
  assert.deepEqual(payment!.slice(1, 7), ["Twin", "Shop Two", "20.00 USD", "CAPTURED", "0.00 USD", "15.00 USD"]);
  await page.close();
});

it("a split payment shows each payee's part in the payments table and, chosen, what each received and gave back", async () => {
  const account = async (displayName: string) =>
    (await curl("payment.v1.AccountService/CreateAccount", { currency: "USD", displayName })).account.accountId as string;
  const [buyer, shop, fees] = [await account("Split buyer"), await account("Split shop"), await account("Split fees")];
  await curl("payment.v1.AccountService/DepositFunds", { idempotencyKey: "console-split-dep", accountId: buyer, amountCents: "10000", currency: "USD" });
  const paid = await curl("payment.v1.PaymentService/AuthorizePayment", {
    idempotencyKey: "console-split-pay", payerAccountId: buyer, amountCents: "10000", currency: "USD", captureMethod: "CAPTURE_METHOD_MANUAL",
    splits: [{ payeeAccountId: shop, amountCents: "9700" }, { payeeAccountId: fees, amountCents: "300" }],
  });
  const paymentId = paid.payment.paymentId as string;
  await curl("payment.v1.PaymentService/CapturePayment", { idempotencyKey: "console-split-cap", paymentId, amountCents: "5000" });

  const { page } = await signedInPage([buyer, shop, fees]);
  await page.locator("#accounts tbody tr", { hasText: "Split buyer" }).click();
  const row = page.locator("#payments tbody tr", { hasText: paymentId });
  await row.waitFor();
  const [shown] = (await rows(page, "#payments")).filter(([id]) => id === paymentId);
  assert.deepEqual(shown!.slice(2, 4), ["Split shop 97.00 + Split fees 3.00", "100.00 USD"]);
  await row.click();
  await outcome(page, "#payment").getByText("Split: ").waitFor();
  assert.match(
    (await outcome(page, "#payment").textContent())!,
    new RegExp(`Split: Split shop \\(${shop}\\): part 97\\.00 USD, received 48\\.50 USD, refunded 0\\.00 USD; Split fees \\(${fees}\\): part 3\\.00 USD, received 1\\.50 USD, refunded 0\\.00 USD\\.$`),
  );
  await page.screenshot({ path: `${ARTIFACTS}/split-payment.png`, fullPage: true });
  await page.close();
});
