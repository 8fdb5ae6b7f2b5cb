// Hot account: every payment goes to one merchant (account 1) and payers follow a Zipf skew
// (ZIPF_S), so one balance row is locked by every transfer: the worst case of a naive SQL ledger.
import { hotPair } from '../lib/accounts.js';
export { setup } from '../lib/accounts.js';
import { authorize, currentProtocol, scenarioOptions, throughputExecutor } from '../lib/workload.js';
import { config } from '../lib/config.js';
export { handleSummary } from '../lib/summary.js';

export const options = scenarioOptions(throughputExecutor(), { p99Ms: config.p99BudgetMs });

export default function (data) {
  authorize(currentProtocol(), hotPair(data.ids));
}
