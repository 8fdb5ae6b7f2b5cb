// Batch: every iteration is one AuthorizePayments request of BATCH_SIZE payments, drawn as in the
// load (WORKLOAD=uniform) or hot-account (WORKLOAD=hot-account) scenario, VUS closed loops.
// Thresholds: at least 99% of the requests had every item authorized.
import { hotPair, uniformPair } from '../lib/accounts.js';
export { setup } from '../lib/accounts.js';
import { authorizeBatch, currentProtocol, scenarioOptions, throughputExecutor } from '../lib/workload.js';
import { config } from '../lib/config.js';
export { handleSummary } from '../lib/summary.js';

export const options = scenarioOptions(throughputExecutor());
const pick = config.workload === 'hot-account' ? hotPair : uniformPair;

export default function (data) {
  const pairs = [];
  for (let i = 0; i < config.batchSize; i++) pairs.push(pick(data.ids));
  authorizeBatch(currentProtocol(), pairs);
}
