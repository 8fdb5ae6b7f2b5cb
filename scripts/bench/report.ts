/**
 * The results of one benchmark run: their JSON shape, the table printed at the end, and the
 * verdict on each target of issue #5 (measured here, never asserted in a timed test).
 */
import type { BenchConfig, Measurement, Workload } from "./workload.js";
import type { Protocol } from "./k6-workload.js";

export interface WorkloadResult {
  workload: Workload["name"];
  pgbench: Measurement;
  service: Record<Protocol, Measurement>;
}

export interface HalfLoadResult {
  protocol: Protocol;
  /** Offered payments/s: half of the uniform closed-loop TPS of this protocol. */
  rate: number;
  measurement: Measurement;
}

export interface BenchResults {
  generatedAt: string;
  machine: { cpus: number; node: string; postgres: string };
  config: Omit<BenchConfig, "fundingCents"> & { fundingCents: string };
  workloads: WorkloadResult[];
  halfLoad: HalfLoadResult[];
  peakRssBytes: number;
  /** Outbox relay commit-to-delivery p99 at half load (the worse protocol), in ms. */
  relayCommitToDeliveryP99Ms: number;
}

export interface Target {
  name: string;
  value: string;
  met: boolean;
}

const protocols: Protocol[] = ["connect", "grpc"];
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

/** Each target of the issue with the measured value it is judged on. */
export function targetsOf(results: BenchResults): Target[] {
  const uniform = results.workloads.find((w) => w.workload === "uniform");
  const hot = results.workloads.find((w) => w.workload === "hot-account");
  const targets: Target[] = [];
  for (const protocol of protocols) {
    if (uniform) {
      const ratio = uniform.service[protocol].tps / uniform.pgbench.tps;
      targets.push({ name: `uniform ${protocol} TPS >= 1.0x pgbench`, value: `${fmt(ratio, 2)}x`, met: ratio >= 1 });
    }
    if (uniform && hot) {
      const ratio = hot.service[protocol].tps / uniform.service[protocol].tps;
      targets.push({ name: `hot-account ${protocol} TPS >= 0.5x uniform`, value: `${fmt(ratio, 2)}x`, met: ratio >= 0.5 });
    }
  }
  for (const half of results.halfLoad) {
    const p99 = half.measurement.p99Ms;
    targets.push({ name: `${half.protocol} p99 < 20 ms at ${fmt(half.rate, 0)}/s (half max)`, value: `${fmt(p99)} ms`, met: p99 < 20 });
  }
  const rssMb = results.peakRssBytes / 2 ** 20;
  targets.push({ name: "service peak RSS < 256 MB", value: `${fmt(rssMb, 0)} MB`, met: rssMb < 256 });
  return targets;
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
}

/** The results table and target verdicts as printed at the end of `npm run bench`. */
export function formatReport(results: BenchResults): string {
  const widths = [22, 9, 8, 8, 8, 10, 7, 12, 22];
  const header = ["workload / side", "TPS", "p50 ms", "p95 ms", "p99 ms", "vs pgbench", "failed", "relay p99", "CPU ms/tx load|svc|pg"];
  const lines = [row(header, widths)];
  const relay = (m: Measurement) => (m.relayP99Ms === undefined ? "" : `${fmt(m.relayP99Ms)} ms`);
  const cpu = (m: Measurement) =>
    m.cpuMsPerTx ? [m.cpuMsPerTx.loadGenerator, m.cpuMsPerTx.service, m.cpuMsPerTx.postgres].map((v) => fmt(v, 2)).join(" | ") : "";
  for (const w of results.workloads) {
    const sides: [string, Measurement][] = [["pgbench", w.pgbench], ...protocols.map((p) => [p, w.service[p]] as [string, Measurement])];
    for (const [side, m] of sides) {
      const ratio = side === "pgbench" ? "1.00x" : `${fmt(m.tps / w.pgbench.tps, 2)}x`;
      lines.push(row([`${w.workload} / ${side}`, fmt(m.tps, 0), fmt(m.p50Ms, 2), fmt(m.p95Ms, 2), fmt(m.p99Ms, 2), ratio, String(m.failed), relay(m), cpu(m)], widths));
    }
  }
  for (const h of results.halfLoad) {
    const m = h.measurement;
    lines.push(row([`half load / ${h.protocol}`, fmt(m.tps, 0), fmt(m.p50Ms, 2), fmt(m.p95Ms, 2), fmt(m.p99Ms, 2), "", String(m.failed), relay(m), cpu(m)], widths));
  }
  lines.push("");
  lines.push(`service peak RSS: ${fmt(results.peakRssBytes / 2 ** 20, 0)} MB`);
  lines.push(`relay commit-to-delivery p99 at half load: ${fmt(results.relayCommitToDeliveryP99Ms)} ms`);
  lines.push("");
  for (const t of targetsOf(results)) lines.push(`${t.met ? "MET    " : "NOT MET"}  ${t.name}: ${t.value}`);
  return lines.join("\n");
}
