/**
 * An SVG bar chart of one benchmark run, written by hand (no charting dependency): per workload,
 * payments/s of every side of the table next to each other, each bar labelled with its rate
 * (a logarithmic axis: single requests and batches differ by an order of magnitude).
 */
import { find, type BenchResults, type Side } from "./report.js";

const WIDTH = 900;
const HEIGHT = 440;
const PLOT = { left: 70, right: 20, top: 50, bottom: 110 };
const SERIES: { key: Side; label: string; color: string }[] = [
  { key: "pgbench", label: "pgbench naive", color: "#7f7f7f" },
  { key: "ceiling", label: "pgbench batch fn x1000", color: "#2b2b2b" },
  { key: "connect", label: "Connect", color: "#1f77b4" },
  { key: "grpc", label: "gRPC", color: "#ff7f0e" },
  { key: "connect-batch-100", label: "Connect x100", color: "#6baed6" },
  { key: "connect-batch-1000", label: "Connect x1000", color: "#08519c" },
  { key: "grpc-batch-100", label: "gRPC x100", color: "#fdae6b" },
  { key: "grpc-batch-1000", label: "gRPC x1000", color: "#a63603" },
  { key: "connect-1-instance", label: "Connect, 1 instance (late)", color: "#98df8a" },
  { key: "connect-3-instances", label: "Connect, 3 instances", color: "#2ca02c" },
];

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** Renders the chart of `results` as a standalone SVG document. */
export function renderChart(results: BenchResults): string {
  const workloads = ["uniform", "hot-account"] as const;
  const rate = (w: (typeof workloads)[number], key: Side) => find(results.rows, w, key)?.tps ?? 0;
  const maxTps = Math.max(10, ...workloads.flatMap((w) => SERIES.map((s) => rate(w, s.key))));
  const top = 10 ** Math.ceil(Math.log10(maxTps));
  const plotW = WIDTH - PLOT.left - PLOT.right;
  const plotH = HEIGHT - PLOT.top - PLOT.bottom;
  const y = (v: number) => PLOT.top + plotH - (Math.log10(Math.max(10, v)) - 1) / (Math.log10(top) - 1) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15">Payments per second, durable PostgreSQL, ${results.config.clients} clients, ${results.machine.cpus} cores (log scale)</text>`,
  ];
  for (let v = 10; v <= top; v *= 10) {
    out.push(`<line x1="${PLOT.left}" x2="${WIDTH - PLOT.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${PLOT.left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
  }
  out.push(`<text transform="translate(16 ${PLOT.top + plotH / 2}) rotate(-90)" text-anchor="middle">payments per second</text>`);
  const groupW = plotW / workloads.length;
  const barW = (groupW * 0.9) / SERIES.length;
  workloads.forEach((w, g) => {
    const x0 = PLOT.left + g * groupW + groupW * 0.05;
    SERIES.forEach((series, s) => {
      const x = x0 + s * barW;
      const tps = rate(w, series.key);
      out.push(`<rect x="${x}" y="${y(tps)}" width="${barW - 3}" height="${PLOT.top + plotH - y(tps)}" fill="${series.color}"/>`);
      out.push(`<text x="${x + (barW - 3) / 2}" y="${y(tps) - 5}" text-anchor="middle" font-size="10">${Math.round(tps)}</text>`);
    });
    out.push(`<text x="${PLOT.left + g * groupW + groupW / 2}" y="${PLOT.top + plotH + 18}" text-anchor="middle" font-size="13">${escape(w)}</text>`);
  });
  let lx = PLOT.left;
  let ly = HEIGHT - 60;
  for (const series of SERIES) {
    if (lx + 16 + series.label.length * 6.5 > WIDTH - PLOT.right) {
      lx = PLOT.left;
      ly += 20;
    }
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${series.color}"/>`);
    out.push(`<text x="${lx + 16}" y="${ly}">${escape(series.label)}</text>`);
    // About 6.5 px per character at 12 px sans-serif, then a gap before the next entry.
    lx += 16 + series.label.length * 6.5 + 24;
  }
  out.push("</svg>");
  return out.join("\n");
}
