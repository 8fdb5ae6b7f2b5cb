/**
 * The benchmark's parameters and the shapes of what it measures, shared by the pgbench and k6
 * sides so both run exactly the same workloads.
 */
import type { CpuSample } from "./cpu-meter.js";

/** One workload, run once by pgbench and once per protocol by k6. */
export interface Workload {
  name: "uniform" | "hot-account";
  /** Concurrent clients (pgbench -c) and closed-loop k6 VUs. */
  clients: number;
  durationSeconds: number;
  accounts: number;
  accountPrefix: string;
  zipfS: number;
  maxAmountCents: number;
}

/** One measured run, in the units of the results table. */
export interface Measurement {
  tps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Transactions committed (pgbench) or payments authorized (k6). */
  transactions: number;
  /** Failed transactions (pgbench) or failed checks (k6). */
  failed: number;
  /** CPU milliseconds per transaction of the load generator, the service and PostgreSQL. */
  cpuMsPerTx?: CpuSample;
  /** Service runs: p99 of outbox row created -> delivered to Kafka by the relay, in ms. */
  relayP99Ms?: number;
  /** Service runs: p99 of the writer's commit -> delivered to Kafka, in ms (relay-latency.ts deliveryP99Ms). */
  deliveryP99Ms?: number;
}

/** Benchmark settings, from BENCH_* environment variables. */
export interface BenchConfig {
  accounts: number;
  clients: number;
  durationSeconds: number;
  zipfS: number;
  maxAmountCents: number;
  fundingCents: bigint;
  currency: string;
  /** Service connection pool (DB_POOL_SIZE); defaults to the client count. */
  poolSize: number;
}

function intFrom(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

/** Reads the settings; defaults keep a run to about three minutes on two cores. */
export function benchConfigFromEnv(): BenchConfig {
  const clients = intFrom("BENCH_CLIENTS", 16);
  return {
    accounts: intFrom("BENCH_ACCOUNTS", 1000),
    clients,
    durationSeconds: intFrom("BENCH_DURATION", 15),
    zipfS: Number(process.env.BENCH_ZIPF_S ?? 1.1),
    maxAmountCents: 100,
    // Enough that no payer of a Zipf-skewed run can run dry: every payment is authorized.
    fundingCents: 1_000_000_000n,
    currency: "EUR",
    poolSize: intFrom("BENCH_POOL_SIZE", clients),
  };
}

/** The workloads of one run, in order. */
export function workloadsOf(config: BenchConfig, accountPrefix: string): Workload[] {
  return (["uniform", "hot-account"] as const).map((name) => ({
    name,
    clients: config.clients,
    durationSeconds: config.durationSeconds,
    accounts: config.accounts,
    accountPrefix,
    zipfS: config.zipfS,
    maxAmountCents: config.maxAmountCents,
  }));
}
