// End-of-test summary shared by every scenario: the full k6 summary data as JSON (SUMMARY_FILE),
// and a short text on stdout with the threshold verdicts and the metrics a reader looks at first.
import { config } from './config.js';

const SHOWN = [
  'checks',
  'payments_authorized',
  'payments_declined',
  'http_req_duration{rpc:AuthorizePayment}',
  'grpc_req_duration{rpc:AuthorizePayment}',
  'http_req_failed',
  'iterations',
];

/** k6 handleSummary hook: export it from a scenario as `handleSummary`. */
export function handleSummary(data) {
  const lines = [];
  for (const [name, metric] of Object.entries(data.metrics)) {
    const verdicts = Object.entries(metric.thresholds || {});
    if (!SHOWN.includes(name) && verdicts.length === 0) continue;
    const failed = verdicts.filter(([, v]) => !v.ok).map(([expr]) => expr);
    const mark = verdicts.length === 0 ? ' ' : failed.length ? '✗' : '✓';
    lines.push(`${mark} ${name}: ${formatValues(metric.values)}${failed.length ? `  FAILED ${failed.join(', ')}` : ''}`);
  }
  const out = { stdout: `\n${lines.sort().join('\n')}\n` };
  if (config.summaryFile) out[config.summaryFile] = JSON.stringify(data, null, 2);
  return out;
}

function formatValues(values) {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(3)}`)
    .join(' ');
}
