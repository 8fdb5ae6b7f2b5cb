/**
 * CPU time spent by each party of a benchmark run, read from /proc: the load generator (k6 or
 * pgbench, children of this process: their time lands in our cutime/cstime once reaped), the
 * service process, and this run's PostgreSQL cluster (the postmaster, its live backends, and the
 * backends it has reaped). On two shared cores this, not wall-clock speed, shows who pays for a
 * transaction; the other sessions' processes on the machine are not counted.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Linux clock ticks per second (getconf CLK_TCK), 100 on every mainstream kernel. */
const TICKS_PER_SECOND = 100;

/** Cumulative CPU milliseconds per party. */
export interface CpuSample {
  loadGenerator: number;
  service: number;
  postgres: number;
  /** The outbox relay, when it runs as a process of its own (npm run relay); else part of service. */
  relay?: number;
}

interface Stat {
  ppid: number;
  /** utime + stime, in ticks. */
  own: number;
  /** cutime + cstime: reaped children, in ticks. */
  children: number;
}

function readStat(pid: number | "self"): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // the process exited between listing and reading
  }
  // Fields after the ")" closing the command name: state ppid ... utime(12) stime(13) cutime(14) cstime(15).
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ").map(Number);
  return { ppid: fields[1]!, own: fields[11]! + fields[12]!, children: fields[13]! + fields[14]! };
}

function postgresTicks(postmasterPid: number): number {
  const postmaster = readStat(postmasterPid);
  if (!postmaster) return Number.NaN;
  let ticks = postmaster.own + postmaster.children;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat?.ppid === postmasterPid) ticks += stat.own;
  }
  return ticks;
}

/** CPU milliseconds one process has used so far (NaN once it has exited). */
export function processCpuMs(pid: number): number {
  return ((readStat(pid)?.own ?? Number.NaN) * 1000) / TICKS_PER_SECOND;
}

/** Samples the parties now; subtract two samples to get a run's share. */
export function sampleCpu(servicePid: number, postmasterPid: number, relayPid?: number): CpuSample {
  const toMs = (ticks: number) => (ticks * 1000) / TICKS_PER_SECOND;
  return {
    loadGenerator: toMs(readStat("self")!.children),
    service: processCpuMs(servicePid),
    postgres: toMs(postgresTicks(postmasterPid)),
    ...(relayPid === undefined ? {} : { relay: processCpuMs(relayPid) }),
  };
}

/** CPU milliseconds per transaction of each party between two samples. */
export function cpuPerTransaction(before: CpuSample, after: CpuSample, transactions: number): CpuSample {
  const per = (key: keyof CpuSample) => ((after[key] ?? 0) - (before[key] ?? 0)) / Math.max(1, transactions);
  return {
    loadGenerator: per("loadGenerator"),
    service: per("service"),
    postgres: per("postgres"),
    ...(after.relay === undefined ? {} : { relay: per("relay") }),
  };
}
