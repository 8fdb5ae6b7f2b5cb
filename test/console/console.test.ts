/**
 * The console in real headless Chromium (Debian's, driven by playwright-core): what a person
 * sees when creating accounts, depositing and paying, with and without a valid key, from the
 * service's own origin and from another origin through CORS.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { testKey } from "../support/api-keys.js";
import { freePort } from "../support/process.js";
import { startTestService, type TestService } from "../support/service.js";

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
  await page.getByRole("status").getByText("Payment declined.").waitFor();

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
  await page.getByRole("alert").getByText('amount must look like 12.34, got "12.345"').waitFor();
  await page.close();
});

it("from an allowed origin the console works through CORS; from another origin the browser blocks it", async () => {
  const allowed = await browser.newPage();
  await allowed.goto(`http://localhost:${port}/console?api=http://127.0.0.1:${port}`);
  await submit(allowed, "#key-form", { "API key": key.key }, "Use key");
  await submit(allowed, "#create-account", { Name: "Carol", Currency: "EUR" }, "Create account");
  await allowed.getByRole("status").getByText("Created account Carol.").waitFor();
  await allowed.close();

  const creations = () => svc.logs.filter((l) => l.procedure === "payment.v1.AccountService/CreateAccount").length;
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
