// Load: uniformly drawn payer/payee pairs for DURATION, VUS closed loops (or RATE payments/s).
// Thresholds: at least 99% authorized, AuthorizePayment p99 within P99_BUDGET_MS.
import { uniformPair } from '../lib/accounts.js';
export { setup } from '../lib/accounts.js';
import { authorize, currentProtocol, scenarioOptions, throughputExecutor } from '../lib/workload.js';
import { config } from '../lib/config.js';
export { handleSummary } from '../lib/summary.js';

export const options = scenarioOptions(throughputExecutor(), { p99Ms: config.p99BudgetMs });

export default function (data) {
  authorize(currentProtocol(), uniformPair(data.ids));
}
