/**
 * An SVG bar chart of one benchmark run, written by hand (no charting dependency): per workload,
 * TPS of pgbench, Connect JSON and gRPC side by side, each bar labelled with its TPS and p99.
 */
import type { BenchResults } from "./report.js";
import type { Measurement } from "./workload.js";

const WIDTH = 720;
const HEIGHT = 400;
const PLOT = { left: 70, right: 20, top: 50, bottom: 80 };
const SERIES = [
  { key: "pgbench", label: "pgbench (same SQL)", color: "#7f7f7f" },
  { key: "connect", label: "service, Connect JSON / HTTP/1.1", color: "#1f77b4" },
  { key: "grpc", label: "service, gRPC / HTTP/2", color: "#ff7f0e" },
] as const;

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** A step for the y axis giving about five gridlines up to `max`. */
function niceStep(max: number): number {
  const rough = max / 5;
  const power = 10 ** Math.floor(Math.log10(rough || 1));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? rough;
}

/** Renders the chart of `results` as a standalone SVG document. */
export function renderChart(results: BenchResults): string {
  const measurementsOf = (w: BenchResults["workloads"][number]): Measurement[] => [w.pgbench, w.service.connect, w.service.grpc];
  const maxTps = Math.max(1, ...results.workloads.flatMap((w) => measurementsOf(w).map((m) => m.tps || 0)));
  const step = niceStep(maxTps);
  const top = Math.ceil(maxTps / step) * step;
  const plotW = WIDTH - PLOT.left - PLOT.right;
  const plotH = HEIGHT - PLOT.top - PLOT.bottom;
  const y = (v: number) => PLOT.top + plotH - (v / top) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15">AuthorizePayment throughput, ${results.config.clients} clients, ${results.machine.cpus} cores (labels: TPS / p99 ms)</text>`,
  ];
  for (let v = 0; v <= top; v += step) {
    out.push(`<line x1="${PLOT.left}" x2="${WIDTH - PLOT.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${PLOT.left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
  }
  out.push(`<text transform="translate(16 ${PLOT.top + plotH / 2}) rotate(-90)" text-anchor="middle">transactions per second</text>`);
  const groupW = plotW / Math.max(1, results.workloads.length);
  const barW = (groupW * 0.7) / SERIES.length;
  results.workloads.forEach((w, g) => {
    const x0 = PLOT.left + g * groupW + groupW * 0.15;
    measurementsOf(w).forEach((m, s) => {
      const x = x0 + s * barW;
      const tps = m.tps || 0;
      out.push(`<rect x="${x}" y="${y(tps)}" width="${barW - 4}" height="${PLOT.top + plotH - y(tps)}" fill="${SERIES[s]!.color}"/>`);
      out.push(`<text x="${x + (barW - 4) / 2}" y="${y(tps) - 5}" text-anchor="middle">${Math.round(tps)} / ${m.p99Ms.toFixed(1)}</text>`);
    });
    out.push(`<text x="${PLOT.left + g * groupW + groupW / 2}" y="${PLOT.top + plotH + 18}" text-anchor="middle" font-size="13">${escape(w.workload)}</text>`);
  });
  let lx = PLOT.left;
  for (const series of SERIES) {
    const ly = HEIGHT - 28;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${series.color}"/>`);
    out.push(`<text x="${lx + 16}" y="${ly}">${escape(series.label)}</text>`);
    // About 6.5 px per character at 12 px sans-serif, then a gap before the next entry.
    lx += 16 + series.label.length * 6.5 + 24;
  }
  out.push("</svg>");
  return out.join("\n");
}
