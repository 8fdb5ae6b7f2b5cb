/**
 * Creates and funds the benchmark's accounts through the service's own API (Connect JSON), so the
 * balances, deposits and ledger entries they start from are exactly what the service would write.
 * pgbench and k6 then pay between <prefix>1..<prefix>N. The benchmarks without a service seed in
 * SQL instead (seedAccountsInSql).
 */
import postgres from "postgres";
import type { Ledger } from "../../src/ledger/ledger.js";

export interface SeedOptions {
  baseUrl: string;
  apiKey: string;
  prefix: string;
  accounts: number;
  currency: string;
  fundingCents: bigint;
  /** Requests in flight at once. */
  concurrency?: number;
}

async function rpc(options: SeedOptions, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${options.baseUrl}/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${options.apiKey}` },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path} failed: ${res.status} ${await res.text()}`);
}

/** Creates accounts <prefix>1..<prefix>N, each funded with `fundingCents`. */
export async function seedAccounts(options: SeedOptions): Promise<void> {
  let next = 1;
  const worker = async () => {
    for (let i = next++; i <= options.accounts; i = next++) {
      const accountId = `${options.prefix}${i}`;
      await rpc(options, "payment.v1.AccountService/CreateAccount", {
        accountId,
        currency: options.currency,
        displayName: `bench ${i}`,
      });
      await rpc(options, "payment.v1.AccountService/DepositFunds", {
        idempotencyKey: `${accountId}-seed`,
        accountId,
        amountCents: options.fundingCents.toString(),
        currency: options.currency,
      });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
}

/** Accounts <prefix>1..N straight in SQL, funded so that no payment declines. */
export async function seedAccountsInSql(databaseUrl: string, prefix: string, accounts: number, fundingCents: bigint): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`insert into accounts (id, currency, display_name)
      select ${prefix} || g, 'EUR', 'bench ' || g from generate_series(1, ${accounts}::int) g`;
    await sql`insert into balances (account_id, currency, available_cents)
      select ${prefix} || g, 'EUR', ${fundingCents.toString()}::bigint from generate_series(1, ${accounts}::int) g`;
  } finally {
    await sql.end();
  }
}

/**
 * `count` payer/payee account pairs opened through `ledger` (the relay benchmarks pay through the
 * Ledger, as the service does), each payer funded with 10^12 cents.
 */
export async function openFundedPairs(ledger: Ledger, count: number, displayName: string): Promise<{ payers: string[]; payees: string[] }> {
  const ctx = { clientId: "bench" };
  const payers: string[] = [];
  const payees: string[] = [];
  for (let i = 0; i < count; i++) {
    const open = async () => (await ledger.createAccount({ currency: "EUR", displayName, accountId: "" }, ctx)).accountId;
    payers.push(await open());
    payees.push(await open());
    await ledger.depositFunds({ idempotencyKey: `fund-${i}`, accountId: payers[i]!, amountCents: 10n ** 12n, currency: "EUR" }, ctx);
  }
  return { payers, payees };
}
