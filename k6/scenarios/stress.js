// Stress: the arrival rate climbs in steps up to MAX_RATE payments/s (STEP_DURATION each) to find
// where latency and errors break; the thresholds only fail when the service stops answering
// correctly (under 95% authorized), latency is reported, not judged.
import { uniformPair } from '../lib/accounts.js';
export { setup } from '../lib/accounts.js';
import { authorize, currentProtocol, scenarioOptions } from '../lib/workload.js';
import { config } from '../lib/config.js';
export { handleSummary } from '../lib/summary.js';

const maxRate = Number(__ENV.MAX_RATE || 800);
const step = __ENV.STEP_DURATION || '10s';
const steps = [0.25, 0.5, 0.75, 1].map((f) => ({ target: Math.round(maxRate * f), duration: step }));

export const options = scenarioOptions(
  {
    executor: 'ramping-arrival-rate',
    startRate: Math.round(maxRate / 8),
    timeUnit: '1s',
    stages: steps,
    preAllocatedVUs: config.vus,
    maxVUs: config.vus * 8,
  },
  { minCheckRate: 0.95 },
);

export default function (data) {
  authorize(currentProtocol(), uniformPair(data.ids));
}
