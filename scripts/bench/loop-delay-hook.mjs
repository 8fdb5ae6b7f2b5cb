// Loaded with NODE_OPTIONS="--import <this file>" by scripts/bench/latency-tail.ts: every
// LOOP_REPORT_MS the service writes one line to stderr with the event loop's delay over that window
// (the longest a ready callback waited: work on the loop, or the process off the CPU) and the
// garbage collector's pauses, so a latency tail can be laid against them.
import { PerformanceObserver, constants, monitorEventLoopDelay } from 'node:perf_hooks';

const delay = monitorEventLoopDelay({ resolution: 2 });
delay.enable();
const pauses = { major: [], minor: [] };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = entry.detail?.kind;
    (kind === constants.NODE_PERFORMANCE_GC_MAJOR ? pauses.major : pauses.minor).push(entry.duration);
  }
}).observe({ entryTypes: ['gc'] });

setInterval(() => {
  const ms = (ns) => Number((ns / 1e6).toFixed(1));
  const line = {
    loopDelayMaxMs: ms(delay.max),
    loopDelayP99Ms: ms(delay.percentile(99)),
    gcMajor: pauses.major.length,
    gcMajorMaxMs: Number(Math.max(0, ...pauses.major).toFixed(1)),
    gcMinor: pauses.minor.length,
    gcMinorMaxMs: Number(Math.max(0, ...pauses.minor).toFixed(1)),
  };
  process.stderr.write(`loop-delay ${JSON.stringify(line)}\n`);
  delay.reset();
  pauses.major = [];
  pauses.minor = [];
}, Number(process.env.LOOP_REPORT_MS ?? 3000)).unref();
