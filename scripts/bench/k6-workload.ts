/**
 * The service side of the comparison: one workload driven by k6 over one protocol, against the
 * seeded accounts, reduced to the same Measurement as the pgbench side.
 */
import { runK6, type K6Summary } from "./k6-runner.js";
import type { Measurement, Workload } from "./workload.js";

export type Protocol = "connect" | "grpc";

const scenarioOf: Record<Workload["name"], string> = { uniform: "load", "hot-account": "hot-account" };

/**
 * Runs `workload` over `protocol`: closed loops of `workload.clients` VUs, or an open model at
 * `rate` payments/s when given (to read latency at a fixed load). Thresholds are not evaluated.
 */
export async function runServiceWorkload(
  service: { baseUrl: string; apiKey: string },
  workload: Workload,
  protocol: Protocol,
  rate = 0,
  /** Items per AuthorizePayments request: the batch scenario (0: single AuthorizePayment calls). */
  batchSize = 0,
  /** Several instances of the service: VUs are spread over them. */
  baseUrls: string[] = [service.baseUrl],
): Promise<Measurement> {
  const result = await runK6(batchSize > 0 ? "batch" : scenarioOf[workload.name], {
    noThresholds: true,
    env: {
      BASE_URL: service.baseUrl,
      BASE_URLS: baseUrls.join(","),
      WORKLOAD: workload.name,
      BATCH_SIZE: batchSize,
      API_KEY: service.apiKey,
      PROTOCOLS: protocol,
      VUS: workload.clients,
      DURATION: `${workload.durationSeconds}s`,
      RATE: rate,
      ACCOUNTS: workload.accounts,
      SEEDED_PREFIX: workload.accountPrefix,
      ZIPF_S: workload.zipfS,
      MAX_AMOUNT_CENTS: workload.maxAmountCents,
    },
  });
  if (result.summary === null) throw new Error(`k6 wrote no summary (exit ${result.exitCode}):\n${result.output}`);
  return toMeasurement(result.summary, protocol, workload.durationSeconds);
}

/**
 * With one protocol per run and seeded accounts, every request of the run is an AuthorizePayment
 * (or AuthorizePayments), so the protocol's request-duration metric is the request's latency.
 */
function toMeasurement(summary: K6Summary, protocol: Protocol, durationSeconds: number): Measurement {
  const duration = summary.metrics[protocol === "connect" ? "http_req_duration" : "grpc_req_duration"]?.values;
  const authorized = summary.metrics.payments_authorized?.values.count ?? 0;
  return {
    tps: authorized / durationSeconds,
    p50Ms: duration?.med ?? Number.NaN,
    p95Ms: duration?.["p(95)"] ?? Number.NaN,
    p99Ms: duration?.["p(99)"] ?? Number.NaN,
    transactions: authorized,
    failed: summary.metrics.checks?.values.fails ?? 0,
  };
}
