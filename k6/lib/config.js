// Run parameters for every scenario, read once from the environment (k6 -e NAME=value or env vars).
// Defaults suit a developer laptop run against `npm start`; the benchmark overrides most of them.

function num(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number, got ${raw}`);
  return value;
}

/** Protocols to drive: "connect" (Connect JSON over HTTP/1.1), "grpc" (gRPC over HTTP/2), or both. */
export const protocols = (__ENV.PROTOCOLS || 'connect,grpc').split(',').map((p) => p.trim());
for (const p of protocols) {
  if (p !== 'connect' && p !== 'grpc') throw new Error(`unknown protocol ${p} in PROTOCOLS`);
}

export const config = {
  baseUrl: __ENV.BASE_URL || 'http://127.0.0.1:8080',
  // host:port of the same cleartext listener; gRPC speaks HTTP/2 with prior knowledge on it.
  grpcAddr: __ENV.GRPC_ADDR || (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/^https?:\/\//, ''),
  // Sent as "Authorization: Bearer <key>" (HTTP header, gRPC metadata); unset for AUTH_DISABLED services.
  apiKey: __ENV.API_KEY || '',
  currency: __ENV.CURRENCY || 'EUR',
  // Number of accounts taking part; with SEEDED_PREFIX they already exist as <prefix><1..accounts>.
  accounts: num('ACCOUNTS', 50),
  seededPrefix: __ENV.SEEDED_PREFIX || '',
  // Funds each payer receives in setup when the scenario creates its own accounts.
  fundingCents: num('FUNDING_CENTS', 100000000),
  maxAmountCents: num('MAX_AMOUNT_CENTS', 100),
  // Zipf exponent over payers in the hot-account workload (same meaning as pgbench random_zipfian).
  zipfS: num('ZIPF_S', 1.1),
  vus: num('VUS', 8),
  duration: __ENV.DURATION || '15s',
  // When RATE is set, load and hot-account use an open model at RATE payments/s instead of VUS loops.
  rate: num('RATE', 0),
  summaryFile: __ENV.SUMMARY_FILE || '',
  // Items per AuthorizePayments request in the batch scenario.
  batchSize: num('BATCH_SIZE', 100),
  // "uniform" or "hot-account": the pair picker of the batch scenario.
  workload: __ENV.WORKLOAD || 'uniform',
  // Comma-separated base URLs of several instances of the service; VUs are spread over them.
  baseUrls: (__ENV.BASE_URLS || __ENV.BASE_URL || 'http://127.0.0.1:8080').split(',').map((u) => u.trim()),
  // Latency budget used by the thresholds of load and hot-account, in milliseconds.
  p99BudgetMs: num('P99_BUDGET_MS', 20),
};
