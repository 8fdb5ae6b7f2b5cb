// Smoke: a few payments per protocol, each followed by the calls that prove the contract holds:
// an idempotent replay returns the same payment, GetPayment finds it, the payee balance is
// readable, and a payment beyond the payer's funds is declined, not authorized. Every check must
// pass (the test suite runs this scenario and fails on exit code 99).
import { check } from 'k6';
import { uniformPair } from '../lib/accounts.js';
export { setup } from '../lib/accounts.js';
import { call } from '../lib/transport.js';
import { authorize, currentProtocol, nextIdempotencyKey, scenarioOptions } from '../lib/workload.js';
import { config } from '../lib/config.js';
export { handleSummary } from '../lib/summary.js';

const PAYMENTS = 'payment.v1.PaymentService';

export const options = scenarioOptions(
  { executor: 'per-vu-iterations', vus: 1, iterations: Number(__ENV.ITERATIONS || 3), maxDuration: '60s' },
  { minCheckRate: 1 },
);

export default function (data) {
  const protocol = currentProtocol();
  const { request, response } = authorize(protocol, uniformPair(data.ids));
  if (!response) return;
  const paymentId = response.payment.paymentId;

  const replay = call(protocol, PAYMENTS, 'AuthorizePayment', request);
  check(replay, { 'replay returns the same payment': (r) => r.ok && r.message.payment.paymentId === paymentId });

  const fetched = call(protocol, PAYMENTS, 'GetPayment', { paymentId });
  check(fetched, {
    'GetPayment finds the payment': (r) => r.ok && r.message.payment.payerAccountId === request.payerAccountId,
  });

  const balance = call(protocol, PAYMENTS, 'GetAccountBalance', { accountId: request.payeeAccountId });
  check(balance, { 'payee balance is readable': (r) => r.ok && /^-?\d+$/.test(String(r.message.availableBalanceCents)) });

  const tooMuch = call(protocol, PAYMENTS, 'AuthorizePayment', {
    ...request,
    idempotencyKey: nextIdempotencyKey(),
    amountCents: String(config.fundingCents * 1000),
  });
  check(tooMuch, {
    'overdraft is declined': (r) => r.ok && r.message.payment.status === 'PAYMENT_STATUS_DECLINED',
  });
}
