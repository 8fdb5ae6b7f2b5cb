// The accounts a run pays between, and how payer/payee pairs are drawn from them.
// Account 1 is the merchant of the hot-account workload; uniform draws use all accounts.
import exec from 'k6/execution';
import { call } from './transport.js';
import { config } from './config.js';

/**
 * Returns the account ids of this run. With SEEDED_PREFIX the accounts were created and funded
 * beforehand (the benchmark seeds them once for pgbench and the service alike); otherwise they are
 * created and funded here through the API, under a per-run prefix so runs never collide.
 */
export function prepareAccounts() {
  const ids = [];
  if (config.seededPrefix) {
    for (let i = 1; i <= config.accounts; i++) ids.push(`${config.seededPrefix}${i}`);
    return ids;
  }
  const prefix = `k6-${Date.now().toString(36)}-`;
  for (let i = 1; i <= config.accounts; i++) {
    const accountId = `${prefix}${i}`;
    const created = call('connect', 'payment.v1.AccountService', 'CreateAccount', {
      accountId,
      currency: config.currency,
      displayName: `k6 account ${i}`,
    });
    if (!created.ok) exec.test.abort(`CreateAccount ${accountId} failed: ${created.code}`);
    const funded = call('connect', 'payment.v1.AccountService', 'DepositFunds', {
      idempotencyKey: `${accountId}-funding`,
      accountId,
      amountCents: String(config.fundingCents),
      currency: config.currency,
    });
    if (!funded.ok) exec.test.abort(`DepositFunds ${accountId} failed: ${funded.code}`);
    ids.push(accountId);
  }
  return ids;
}

/** Two distinct accounts drawn uniformly. */
export function uniformPair(ids) {
  const payer = Math.floor(Math.random() * ids.length);
  let payee = Math.floor(Math.random() * (ids.length - 1));
  if (payee >= payer) payee += 1;
  return { payer: ids[payer], payee: ids[payee] };
}

let zipfCdf = null;

/**
 * Every payment goes to account 1; payers are accounts 2..N drawn with P(k) ∝ 1/k^s (k = 1 is
 * account 2), the distribution of pgbench's random_zipfian(1, N-1, s).
 */
export function hotPair(ids) {
  if (zipfCdf === null) zipfCdf = cumulativeZipf(ids.length - 1, config.zipfS);
  const u = Math.random();
  let lo = 0;
  let hi = zipfCdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (zipfCdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return { payer: ids[lo + 1], payee: ids[0] };
}

function cumulativeZipf(n, s) {
  const cdf = new Array(n);
  let total = 0;
  for (let k = 1; k <= n; k++) {
    total += 1 / Math.pow(k, s);
    cdf[k - 1] = total;
  }
  for (let i = 0; i < n; i++) cdf[i] /= total;
  return cdf;
}

/** k6 setup hook shared by the scenarios: export it as `setup`; VUs receive { ids }. */
export function setup() {
  return { ids: prepareAccounts() };
}
