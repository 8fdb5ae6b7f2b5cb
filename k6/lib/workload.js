// What one virtual user does per iteration, and the k6 options every scenario is built from.
// Each scenario file only chooses an executor and a pair picker; protocol handling lives here.
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import { call } from './transport.js';
import { config, protocols } from './config.js';

const PAYMENTS = 'payment.v1.PaymentService';
const authorized = new Counter('payments_authorized');
const declined = new Counter('payments_declined');

/** The protocol of the running scenario: scenarios are named after the protocol they drive. */
export function currentProtocol() {
  return exec.scenario.name;
}

let sequence = 0;

/** A key unique across VUs, iterations and runs: one idempotency key per logical payment. */
export function nextIdempotencyKey() {
  sequence += 1;
  return `${exec.scenario.name}-${exec.vu.idInTest}-${sequence}-${Date.now().toString(36)}`;
}

/**
 * Authorizes one payment of 1..MAX_AMOUNT_CENTS from payer to payee over `protocol` and checks it
 * was authorized. Returns the proto3 JSON request and the response (null when the call failed).
 */
export function authorize(protocol, pair) {
  const request = {
    idempotencyKey: nextIdempotencyKey(),
    payerAccountId: pair.payer,
    payeeAccountId: pair.payee,
    amountCents: String(1 + Math.floor(Math.random() * config.maxAmountCents)),
    currency: config.currency,
    description: 'k6',
  };
  const res = call(protocol, PAYMENTS, 'AuthorizePayment', request);
  const status = res.ok && res.message.payment ? res.message.payment.status : `error ${res.code}`;
  check(status, { 'payment authorized': (s) => s === 'PAYMENT_STATUS_AUTHORIZED' });
  if (status === 'PAYMENT_STATUS_AUTHORIZED') authorized.add(1);
  else if (status === 'PAYMENT_STATUS_DECLINED') declined.add(1);
  return { request, response: res.ok ? res.message : null };
}

/**
 * Authorizes `pairs.length` payments in one AuthorizePayments request over `protocol` and checks
 * every item was authorized. Counts each authorized item in payments_authorized.
 */
export function authorizeBatch(protocol, pairs) {
  const items = pairs.map((pair) => ({
    idempotencyKey: nextIdempotencyKey(),
    payerAccountId: pair.payer,
    payeeAccountId: pair.payee,
    amountCents: String(1 + Math.floor(Math.random() * config.maxAmountCents)),
    currency: config.currency,
    description: 'k6',
  }));
  const res = call(protocol, PAYMENTS, 'AuthorizePayments', { items });
  const outcomes = res.ok && res.message.outcomes ? res.message.outcomes : [];
  let ok = 0;
  for (const outcome of outcomes) {
    const status = outcome.payment ? outcome.payment.status : 'error';
    if (status === 'PAYMENT_STATUS_AUTHORIZED') ok += 1;
    else if (status === 'PAYMENT_STATUS_DECLINED') declined.add(1);
  }
  authorized.add(ok);
  check(ok, { 'every item authorized': (n) => n === items.length });
  return { items, response: res.ok ? res.message : null };
}

/**
 * k6 options with one scenario per selected protocol, each running `executor` (a k6 scenario
 * object without `exec`), and thresholds: every check passes at least `minCheckRate`, and the
 * AuthorizePayment p99 stays within `p99Ms` when given.
 */
export function scenarioOptions(executor, { minCheckRate = 0.99, p99Ms = 0 } = {}) {
  const scenarios = {};
  const thresholds = {};
  for (const protocol of protocols) {
    scenarios[protocol] = Object.assign({}, executor);
    thresholds[`checks{scenario:${protocol}}`] = [`rate>=${minCheckRate}`];
    // A rate over no checks passes: also demand that every protocol really authorized payments.
    thresholds[`payments_authorized{scenario:${protocol}}`] = ['count>0'];
    if (p99Ms > 0) {
      const metric = protocol === 'connect' ? 'http_req_duration' : 'grpc_req_duration';
      thresholds[`${metric}{rpc:AuthorizePayment}`] = [`p(99)<${p99Ms}`];
    }
  }
  return {
    scenarios,
    thresholds,
    summaryTrendStats: ['avg', 'min', 'med', 'p(95)', 'p(99)', 'max'],
    // Setup may create and fund hundreds of accounts through the API.
    setupTimeout: '120s',
  };
}

/**
 * Closed model (VUS loops as fast as the service answers, what pgbench does with -c VUS) unless
 * RATE is set, then an open model at RATE payments/s, used to read latency at a fixed load.
 */
export function throughputExecutor() {
  if (config.rate > 0) {
    return {
      executor: 'constant-arrival-rate',
      rate: config.rate,
      timeUnit: '1s',
      duration: config.duration,
      preAllocatedVUs: Math.max(config.vus, 4),
      maxVUs: Math.max(config.vus * 4, 16),
    };
  }
  return { executor: 'constant-vus', vus: config.vus, duration: config.duration };
}
