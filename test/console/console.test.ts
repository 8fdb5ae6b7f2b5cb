/**
 * The console in real headless Chromium (Debian's, driven by playwright-core): what a person
 * sees when creating accounts, depositing and paying, with and without a valid key, from the
 * service's own origin and from another origin through CORS.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { promisify } from "node:util";
import { after, before, it } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { testKey } from "../support/api-keys.js";
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
  svc = await startTestService({ PORT: String(port), AUTH_DISABLED: "false", API_KEYS: key.entry, CORS_ORIGINS: `http://localhost:${port}` });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
});
after(async () => {
  await browser?.close();
  await svc?.stop();
});

async function submit(page: Page, form: string, fields: Record<string, string>, button: string): Promise<void> {
  for (const [label, value] of Object.entries(fields)) {
    const field = page.locator(form).getByLabel(label);
    if ((await field.evaluate((el) => el.tagName)) === "SELECT") await field.selectOption({ label: value });
    else await field.fill(value);
  }
  await page.locator(form).getByRole("button", { name: button }).click();
}

const rows = (page: Page, table: string) =>
  page.locator(`${table} tbody tr`).evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td"), (td) => td.textContent)));

it("a person creates accounts, deposits and pays; balances and outcomes show up", async () => {
  const page = await browser.newPage();
  await page.goto(`${svc.url}/console`);
  await assert.doesNotReject(page.getByRole("heading", { name: "Payment ledger console" }).waitFor());

  await submit(page, "#create-account", { Name: "Alice" }, "Create account");
  await page.getByRole("alert").getByText("[unauthenticated] missing API key").waitFor();

  await submit(page, "#key-form", { "API key": "pl_wrong" }, "Use key");
  await submit(page, "#create-account", { Name: "Alice" }, "Create account");
  await page.getByRole("alert").getByText("[unauthenticated] invalid API key").waitFor();

  await submit(page, "#key-form", { "API key": key.key }, "Use key");
  await submit(page, "#create-account", { Name: "Alice" }, "Create account");
  await page.getByRole("status").getByText("Created account Alice.").waitFor();
  await submit(page, "#create-account", { Name: "Bob" }, "Create account");
  await page.getByRole("status").getByText("Created account Bob.").waitFor();
  assert.equal(await page.getByRole("alert").textContent(), "");

  await submit(page, "#deposit", { Account: "Alice (USD)", Amount: "100.00" }, "Deposit");
  await page.getByRole("status").getByText("Deposited 100.00 USD to Alice.").waitFor();

  await submit(page, "#pay", { From: "Alice (USD)", To: "Bob (USD)", Amount: "30.5", Description: "lunch" }, "Authorize payment");
  await page.getByRole("status").getByText("Payment authorized.").waitFor();
  await submit(page, "#pay", { From: "Alice (USD)", To: "Bob (USD)", Amount: "500.00" }, "Authorize payment");
  await page.getByRole("status").getByText("Payment declined: INSUFFICIENT_FUNDS.").waitFor();
  assert.equal(await page.getByRole("status").getAttribute("class"), "declined", "a decline is not shown as a success");

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

  await submit(page, "#deposit", { Account: "Bob (USD)", Amount: "12.345" }, "Deposit");
  await page.getByRole("alert").getByText('amount must look like 12.34 for USD, got "12.345"').waitFor();
  await page.screenshot({ path: `${ARTIFACTS}/payments.png`, fullPage: true });
  await page.close();
});

it("from an allowed origin the console works through CORS; from another origin the browser blocks it", async () => {
  const allowed = await browser.newPage();
  await allowed.goto(`http://localhost:${port}/console?api=http://127.0.0.1:${port}`);
  await submit(allowed, "#key-form", { "API key": key.key }, "Use key");
  await submit(allowed, "#create-account", { Name: "Carol", Currency: "EUR" }, "Create account");
  await allowed.getByRole("status").getByText("Created account Carol.").waitFor();
  await allowed.close();

  // Calls that reached the API (a refused preflight is logged too, as "rpc refused").
  const creations = () => svc.logs.filter((l) => l.procedure === "payment.v1.AccountService/CreateAccount" && l.msg !== "rpc refused").length;
  const before = creations();
  const blocked = await browser.newPage();
  await blocked.goto(`http://127.0.0.1:${port}/console?api=http://localhost:${port}`);
  await submit(blocked, "#key-form", { "API key": key.key }, "Use key");
  await submit(blocked, "#create-account", { Name: "Mallory" }, "Create account");
  // Chromium hides why (CORS); fetch only fails, and nothing reached the ledger.
  await blocked.getByRole("alert").getByText("[unknown] Failed to fetch").waitFor();
  assert.equal(await blocked.getByRole("status").textContent(), "");
  assert.equal(creations(), before, "the preflight failed, so the call was never sent");
  await blocked.close();
});

/** A page with the key already entered; records every 404 the page's requests get. */
async function signedInPage(): Promise<{ page: Page; notFound: string[] }> {
  const page = await browser.newPage();
  const notFound: string[] = [];
  page.on("response", (response) => void (response.status() === 404 && notFound.push(response.url())));
  await page.goto(`${svc.url}/console`);
  await submit(page, "#key-form", { "API key": key.key }, "Use key");
  await page.getByRole("status").getByText("API key set for this tab.").waitFor();
  return { page, notFound };
}

const curl = (method: string, body: unknown) =>
  run("curl", ["-sS", "-X", "POST", `${svc.url}/${method}`, "-H", "Content-Type: application/json", "-H", `Authorization: Bearer ${key.key}`, "-d", JSON.stringify(body)])
    .then(({ stdout }) => JSON.parse(stdout) as Record<string, any>);

it("minor units follow the currency (JPY 0 decimals, BHD 3); a double-click moves money once", async () => {
  const { page, notFound } = await signedInPage();
  await submit(page, "#create-account", { Name: "Yuki", Currency: "JPY" }, "Create account");
  await page.getByRole("status").getByText("Created account Yuki.").waitFor();
  await submit(page, "#create-account", { Name: "Bahrain", Currency: "BHD" }, "Create account");
  await page.getByRole("status").getByText("Created account Bahrain.").waitFor();

  await submit(page, "#deposit", { Account: "Yuki (JPY)", Amount: "500" }, "Deposit");
  await page.getByRole("status").getByText("Deposited 500 JPY to Yuki.").waitFor();
  await submit(page, "#deposit", { Account: "Bahrain (BHD)", Amount: "1.234" }, "Deposit");
  await page.getByRole("status").getByText("Deposited 1.234 BHD to Bahrain.").waitFor();
  const yuki = (await rows(page, "#accounts")).find(([name]) => name === "Yuki")!;
  assert.equal(yuki[2], "500 JPY");
  const yukiId = yuki[1]!;
  assert.equal((await curl("payment.v1.PaymentService/GetAccountBalance", { accountId: yukiId })).availableBalanceCents, "500");

  // Double-click: the second submit of the same form reuses the first one's idempotency key.
  await page.locator("#deposit").getByLabel("Account").selectOption({ label: "Yuki (JPY)" });
  await page.locator("#deposit").getByLabel("Amount").fill("7");
  await page.locator("#deposit").getByRole("button", { name: "Deposit" }).dblclick();
  await page.getByRole("status").getByText("Deposited 7 JPY to Yuki.").waitFor();
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

  const { page } = await signedInPage();
  await page.reload(); // the key stays in the tab; everything else comes from the API again
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
  const { page } = await signedInPage();
  await submit(page, "#create-account", { Name: "Dana" }, "Create account");
  await page.getByRole("status").getByText("Created account Dana.").waitFor();
  await submit(page, "#create-account", { Name: "Shop" }, "Create account");
  await page.getByRole("status").getByText("Created account Shop.").waitFor();
  await submit(page, "#deposit", { Account: "Dana (USD)", Amount: "100.00" }, "Deposit");
  await page.getByRole("status").getByText("Deposited 100.00 USD to Dana.").waitFor();
  const balancesShown = async () =>
    Object.fromEntries((await rows(page, "#accounts")).filter(([name]) => name === "Dana" || name === "Shop").map(([name, , available, held]) => [name, [available, held]]));

  await submit(page, "#pay", { From: "Dana (USD)", To: "Shop (USD)", Amount: "40.00", Capture: "Hold, capture later" }, "Authorize payment");
  await page.getByRole("status").getByText(/^Held 40\.00 USD: payment \w+ awaits capture\.$/).waitFor();
  const paymentId = (await page.getByRole("status").textContent())!.match(/payment (\w+)/)![1]!;
  assert.deepEqual(await balancesShown(), { Dana: ["60.00 USD", "40.00 USD"], Shop: ["0.00 USD", "0.00 USD"] });

  await submit(page, "#capture", { "Payment id": paymentId, "Amount to capture": "25.00" }, "Capture");
  await page.getByRole("status").getByText(`Captured 25.00 USD of payment ${paymentId}.`).waitFor();
  assert.deepEqual(await balancesShown(), { Dana: ["75.00 USD", "0.00 USD"], Shop: ["25.00 USD", "0.00 USD"] }, "the rest of the hold is released");

  await submit(page, "#refund", { "Payment id": paymentId, "Amount to refund": "10.00", Reason: "one item back" }, "Refund");
  await page.getByRole("status").getByText(`Refunded 10.00 USD of payment ${paymentId}.`).waitFor();
  assert.deepEqual(await balancesShown(), { Dana: ["85.00 USD", "0.00 USD"], Shop: ["15.00 USD", "0.00 USD"] });
  const [payment] = (await rows(page, "#payments")).filter(([id]) => id === paymentId);
  assert.deepEqual(payment!.slice(3), ["40.00 USD", "CAPTURED", "0.00 USD", "25.00 USD", "10.00 USD"]);

  // A refund beyond what is left of the capture changes nothing and says so.
  await submit(page, "#refund", { "Payment id": paymentId, "Amount to refund": "20.00" }, "Refund");
  await page.getByRole("alert").getByText(/\[failed_precondition\]/).waitFor();
  assert.deepEqual(await balancesShown(), { Dana: ["85.00 USD", "0.00 USD"], Shop: ["15.00 USD", "0.00 USD"] });

  await submit(page, "#payout", { Account: "Shop (USD)", Amount: "5.00", Reference: "bank 42" }, "Pay out");
  await page.getByRole("status").getByText("Paid out 5.00 USD from Shop.").waitFor();
  assert.deepEqual(await balancesShown(), { Dana: ["85.00 USD", "0.00 USD"], Shop: ["10.00 USD", "0.00 USD"] });
  await submit(page, "#payout", { Account: "Shop (USD)", Amount: "50.00" }, "Pay out");
  await page.getByRole("status").getByText("Payout declined: INSUFFICIENT_FUNDS.").waitFor();

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
