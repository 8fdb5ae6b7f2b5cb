/**
 * The results of one benchmark run: their JSON shape (with the `headline` every run is compared
 * by), the table printed at the end, and the verdict on each target of issue 10 (measured here,
 * never asserted in a timed test).
 */
import type { BenchConfig, Measurement, Workload } from "./workload.js";
import type { Protocol } from "./k6-workload.js";
import type { FloorStack } from "./framework-floor.js";

/** Who drives the load, and how, in one row of the table. */
export type Side =
  | "pgbench" // the naive single-payment transaction
  | "fn-1" // pgbench calling ledger_apply with 1 item per call, at the naive script's concurrency
  | "fn-64" // pgbench calling ledger_apply with 64 items per call, 2 clients
  | "ceiling" // pgbench calling ledger_apply with 1,000 items per call, 2 clients
  | Protocol // the service, one payment per request
  | `${Protocol}-batch-${number}` // the service's AuthorizePayments, n items per request
  | "connect-1-instance" // the one-instance reference measured right before the three-instance row
  | "connect-3-instances"; // three service processes on the same database, single requests

export interface Row {
  workload: Workload["name"];
  side: Side;
  measurement: Measurement;
  /** Outbox rows the relay had not delivered when the run ended (service rows). */
  backlogAtEnd?: number;
}

/** A framework floor (framework-floor.ts) under the single Connect row's closed loops. */
export interface FloorResult {
  stack: FloorStack;
  /** The emulated commit delay that put the floor at the service's rate. */
  commitMs: number;
  measurement: Measurement;
}

export interface HalfLoadResult {
  protocol: Protocol;
  /** Offered payments/s: half of the uniform closed-loop rate of this protocol. */
  rate: number;
  measurement: Measurement;
}

/** The figures every run is compared by (issue 10 names exactly these keys). */
export interface Headline {
  durable: boolean;
  batchPaymentsPerSecond: number;
  batchVsCeiling: number;
  singleConnectVsPgbench: number;
  hotVsUniform: number;
  p99HalfLoadMs: number;
  peakRssMb: number;
  relayKeptUp: boolean;
  threeInstancesVsOne: number;
  /** ledger_apply with 1 item per call / the naive transaction (uniform): one round trip against eight. */
  fnSingleVsNaive: number;
  /** ledger_apply with 64 items per call / the naive transaction (uniform), in payments/s. */
  fn64VsNaive: number;
  /** The relay process's CPU per event at the single-request rows (the worst of them), in ms. */
  relayCpuMsPerEvent: number;
  /** Commit-to-delivery p99 at half load (the worse protocol), in ms. */
  deliveryP99Ms: number;
  /** The service's CPU per single Connect payment (uniform), in ms. */
  serviceCpuMsPerSinglePayment: number;
  /** The same for Fastify + connect-es answering without any ledger work, at the same rate, in ms. */
  frameworkFloorCpuMs: number;
}

export interface BenchResults {
  generatedAt: string;
  machine: { cpus: number; node: string; postgres: string };
  config: Omit<BenchConfig, "fundingCents"> & { fundingCents: string };
  /** PostgreSQL's durability settings during every row, as the server reported them. */
  postgresSettings: Record<string, string>;
  rows: Row[];
  halfLoad: HalfLoadResult[];
  /** The framework floors (absent in runs before they were measured). */
  floors?: FloorResult[];
  /** Peak RSS of the whole run (batch rows included). */
  peakRssBytes: number;
  /** Peak RSS before the first batch row: single requests only. */
  peakRssSingleBytes: number;
  /** Outbox relay commit-to-delivery p99 over every service row (the worst), in ms. */
  relayCommitToDeliveryP99Ms: number;
  headline: Headline;
}

export interface Target {
  name: string;
  value: string;
  met: boolean;
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

/** The measurement of `side` under `workload`, if the run has it. */
export function find(rows: Row[], workload: Workload["name"], side: Side): Measurement | undefined {
  return rows.find((r) => r.workload === workload && r.side === side)?.measurement;
}

const ratio = (a: Measurement | undefined, b: Measurement | undefined) => (a && b ? a.tps / b.tps : Number.NaN);

/** A backlog is kept up with when it is under one second of the row's own rate (or 1,000 rows). */
export function keptUp(row: Row): boolean {
  return row.backlogAtEnd === undefined || row.backlogAtEnd <= Math.max(1_000, row.measurement.tps);
}

/**
 * Three instances against one, on the same database at the same moment: the one-instance
 * reference is measured right before the three-instance row (by then the batch rows have written
 * some 10^5 payments, so the early single-request row is not a fair "one"); runs that predate the
 * reference fall back to that early row.
 */
function threeVsOne(rows: Row[], workload: Workload["name"]): number {
  return ratio(find(rows, workload, "connect-3-instances"), find(rows, workload, "connect-1-instance") ?? find(rows, workload, "connect"));
}

/** The headline figures of a run. */
export function headlineOf(results: Omit<BenchResults, "headline">): Headline {
  const { rows } = results;
  const batchRows = rows.filter((r) => r.workload === "uniform" && r.side.includes("-batch-"));
  const best = batchRows.reduce<Row | undefined>((a, r) => (!a || r.measurement.tps > a.measurement.tps ? r : a), undefined);
  const halfConnect = results.halfLoad.find((h) => h.protocol === "connect");
  return {
    durable: ["fsync", "synchronous_commit", "full_page_writes"].every((name) => results.postgresSettings[name] === "on"),
    batchPaymentsPerSecond: best?.measurement.tps ?? Number.NaN,
    batchVsCeiling: ratio(best?.measurement, find(rows, "uniform", "ceiling")),
    singleConnectVsPgbench: ratio(find(rows, "uniform", "connect"), find(rows, "uniform", "pgbench")),
    hotVsUniform: ratio(find(rows, "hot-account", "connect"), find(rows, "uniform", "connect")),
    p99HalfLoadMs: halfConnect?.measurement.p99Ms ?? Number.NaN,
    peakRssMb: results.peakRssBytes / 2 ** 20,
    relayKeptUp: rows.every(keptUp),
    threeInstancesVsOne: threeVsOne(rows, "hot-account"),
    fnSingleVsNaive: ratio(find(rows, "uniform", "fn-1"), find(rows, "uniform", "pgbench")),
    fn64VsNaive: ratio(find(rows, "uniform", "fn-64"), find(rows, "uniform", "pgbench")),
    relayCpuMsPerEvent: Math.max(
      ...rows.filter((r) => r.side === "connect" || r.side === "grpc").map((r) => r.measurement.cpuMsPerTx?.relay ?? Number.NaN),
    ),
    deliveryP99Ms: Math.max(...results.halfLoad.map((h) => h.measurement.deliveryP99Ms ?? Number.NaN)),
    serviceCpuMsPerSinglePayment: find(rows, "uniform", "connect")?.cpuMsPerTx?.service ?? Number.NaN,
    frameworkFloorCpuMs: results.floors?.find((f) => f.stack === "fastify-connect")?.measurement.cpuMsPerTx?.service ?? Number.NaN,
  };
}

/** Each target of the issue with the measured value it is judged on. */
export function targetsOf(results: BenchResults): Target[] {
  const h = results.headline;
  const targets: Target[] = [
    { name: "ledger_apply x1 >= 1.0x naive transaction (uniform)", value: `${fmt(h.fnSingleVsNaive, 2)}x`, met: h.fnSingleVsNaive >= 1 },
    { name: "ledger_apply x64 >= 5.0x naive transaction (uniform)", value: `${fmt(h.fn64VsNaive, 2)}x`, met: h.fn64VsNaive >= 5 },
    { name: "batch API >= 10,000 payments/s", value: fmt(h.batchPaymentsPerSecond, 0), met: h.batchPaymentsPerSecond >= 10_000 },
    { name: "batch API >= 0.8x the ceiling", value: `${fmt(h.batchVsCeiling, 2)}x`, met: h.batchVsCeiling >= 0.8 },
    { name: "single Connect >= 1.0x naive pgbench (uniform)", value: `${fmt(h.singleConnectVsPgbench, 2)}x`, met: h.singleConnectVsPgbench >= 1 },
    { name: "hot account >= 0.9x uniform (single Connect)", value: `${fmt(h.hotVsUniform, 2)}x`, met: h.hotVsUniform >= 0.9 },
  ];
  for (const half of results.halfLoad) {
    const p99 = half.measurement.p99Ms;
    targets.push({ name: `${half.protocol} p99 < 20 ms at ${fmt(half.rate, 0)}/s (half max)`, value: `${fmt(p99)} ms`, met: p99 < 20 });
  }
  targets.push({ name: "relay keeps up (backlog at each row's end under one second of its rate or 1,000 events)", value: String(h.relayKeptUp), met: h.relayKeptUp });
  targets.push({ name: "relay commit-to-delivery p99 < 100 ms at half load", value: `${fmt(h.deliveryP99Ms)} ms`, met: h.deliveryP99Ms < 100 });
  targets.push({ name: "relay CPU <= 0.1 ms per event (single-request rows)", value: `${fmt(h.relayCpuMsPerEvent, 3)} ms`, met: h.relayCpuMsPerEvent <= 0.1 });
  targets.push({
    name: "service CPU <= 0.4 ms per single Connect payment",
    value: `${fmt(h.serviceCpuMsPerSinglePayment, 3)} ms (Fastify + connect-es with no ledger work: ${fmt(h.frameworkFloorCpuMs, 3)} ms)`,
    met: h.serviceCpuMsPerSinglePayment <= 0.4,
  });
  for (const workload of ["uniform", "hot-account"] as const) {
    const r = threeVsOne(results.rows, workload);
    targets.push({ name: `3 instances >= 0.9x one (${workload})`, value: `${fmt(r, 2)}x`, met: r >= 0.9 });
  }
  targets.push({ name: "service peak RSS < 256 MB (whole run)", value: `${fmt(h.peakRssMb, 0)} MB`, met: h.peakRssMb < 256 });
  const singleMb = results.peakRssSingleBytes / 2 ** 20;
  targets.push({ name: "service peak RSS < 256 MB (single requests only)", value: `${fmt(singleMb, 0)} MB`, met: singleMb < 256 });
  return targets;
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
}

/** The results table and target verdicts as printed at the end of `npm run bench`. */
export function formatReport(results: BenchResults): string {
  const widths = [34, 9, 9, 9, 9, 8, 6, 10, 10, 8, 30];
  const header = ["workload / side", "pay/s", "p50 ms", "p95 ms", "p99 ms", "vs naive", "failed", "relay p99", "deliv p99", "backlog", "CPU ms/pay load|svc|pg|relay"];
  const settings = Object.entries(results.postgresSettings).map(([k, v]) => `${k}=${v}`).join(" ");
  const lines = [`PostgreSQL: ${settings}; ${results.config.clients} clients, ${results.config.durationSeconds}s per row`, row(header, widths)];
  const cpu = (m: Measurement) =>
    m.cpuMsPerTx
      ? [m.cpuMsPerTx.loadGenerator, m.cpuMsPerTx.service, m.cpuMsPerTx.postgres, m.cpuMsPerTx.relay ?? Number.NaN].map((v) => fmt(v, 3)).join(" | ")
      : "";
  const line = (label: string, m: Measurement, base: Measurement | undefined, backlog?: number) =>
    row(
      [label, fmt(m.tps, 0), fmt(m.p50Ms, 2), fmt(m.p95Ms, 2), fmt(m.p99Ms, 2), base ? `${fmt(m.tps / base.tps, 2)}x` : "", String(m.failed),
        m.relayP99Ms === undefined ? "" : `${fmt(m.relayP99Ms)} ms`, m.deliveryP99Ms === undefined ? "" : `${fmt(m.deliveryP99Ms)} ms`,
        backlog === undefined ? "" : String(backlog), cpu(m)],
      widths,
    );
  for (const r of results.rows) {
    lines.push(line(`${r.workload} / ${r.side}`, r.measurement, find(results.rows, r.workload, "pgbench"), r.backlogAtEnd));
  }
  for (const h of results.halfLoad) lines.push(line(`half load / ${h.protocol} @ ${fmt(h.rate, 0)}/s`, h.measurement, undefined));
  for (const f of results.floors ?? []) lines.push(line(`floor / ${f.stack} (${f.commitMs} ms)`, f.measurement, undefined));
  lines.push("");
  lines.push("Batch rows: latencies are per request (of 100 or 1,000 payments); fn-64's and the ceiling's per call of 64 or 1,000.");
  lines.push("floor: no ledger work, only the protocol (framework-floor.ts), closed loops at the single Connect row's rate; svc is its CPU.");
  lines.push("relay p99: outbox row written (writer's transaction start) -> delivered; deliv p99: writer's commit -> delivered.");
  lines.push(`service peak RSS: ${fmt(results.peakRssBytes / 2 ** 20, 0)} MB (${fmt(results.peakRssSingleBytes / 2 ** 20, 0)} MB before the first batch row)`);
  lines.push(`relay commit-to-delivery p99 (worst row): ${fmt(results.relayCommitToDeliveryP99Ms)} ms`);
  lines.push(`headline: ${JSON.stringify(results.headline)}`);
  lines.push("");
  for (const t of targetsOf(results)) lines.push(`${t.met ? "MET    " : "NOT MET"}  ${t.name}: ${t.value}`);
  return lines.join("\n");
}
