/**
 * `tsx scripts/bench/profile-cpu.ts [root]`: where the service's CPU time goes under single Connect
 * payments, sampled by `perf record -e cpu-clock` (CPU time, every thread of the process) rather than
 * by V8's profiler, whose samples are wall-clock: on two shared cores a process preempted inside a
 * socket write (the write wakes the reader, which takes the core) is sampled there until it runs
 * again, so V8's profile showed socket writes at a fifth of the service. Here a sample is taken only
 * while the process runs, and JIT frames are named through `--perf-basic-prof`, mapped back to src/
 * through the bundle's source map. Samples are owned by the thread and the frame they were taken
 * in: background threads (concurrent GC, the optimizing compiler), the kernel (by the system call
 * that entered it), garbage collection and compilation on the main thread, else the nearest
 * JavaScript frame's owner (a src/ file, an npm package, a part of Node).
 *
 * A fresh service from `root` (default: this checkout) runs against a durable PostgreSQL without the
 * relay, as `npm run bench` runs it; after PROFILE_WARMUP seconds of the uniform single-payment load
 * (16 closed loops), perf samples BENCH_DURATION seconds of the same load. Needs `perf` (linux-perf).
 * With PROFILE_FLOOR=fastify-connect (or node-http) it profiles that framework floor instead, at
 * PROFILE_FLOOR_TPS (default 365) payments/s: what the stack costs with no ledger work.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { SourceMap } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { processCpuMs } from "./cpu-meter.js";
import { runServiceWorkload } from "./k6-workload.js";
import { makeDurable, startBackingService } from "./backing-services.js";
import { seedAccounts } from "./seed.js";
import { startService } from "./service-process.js";
import { floorCommitMs, startFloor, type FloorStack } from "./framework-floor.js";
import { benchConfigFromEnv, workloadsOf, type Workload } from "./workload.js";

const maps = new Map<string, SourceMap | undefined>();

/** The owner of a JIT frame named by --perf-basic-prof ("JS:*name url:line:column"). */
function ownerOfJsFrame(symbol: string): string {
  const location = /(\S+):(\d+):(\d+)$/.exec(symbol.replace(/\+0x[0-9a-f]+$/, ""));
  if (!location) return "(JavaScript, unnamed)";
  let url = location[1]!;
  if (/\/main-[0-9a-f]+\.mjs$/.test(url)) {
    if (!maps.has(url)) {
      const file = `${fileURLToPath(url)}.map`;
      maps.set(url, existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, "utf8"))) : undefined);
    }
    const entry = maps.get(url)?.findEntry(Number(location[2]) - 1, Number(location[3]) - 1);
    if (entry && "originalSource" in entry && entry.originalSource) url = entry.originalSource;
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return `pkg:${pkg[1]}`;
  const src = /\/src\/(.+)$/.exec(url);
  if (src) return `src/${src[1]}`;
  const internal = /^node:(?:internal\/)?([^/]+)/.exec(url);
  return internal ? `node:${internal[1]}` : url;
}

const GC = /v8::internal::(Heap|Scavenge|Mark|Sweep|ConcurrentMarking|MinorMark|Evacuat|MemoryAllocator|IncrementalMarking|PagedSpace|FreeList|LocalHeap|MemoryChunk|BasicMemoryChunk|LargeObjectSpace|ArrayBufferSweeper|PointersUpdating|RememberedSet|SlotSet|MainMarkingVisitor|ConcurrentMarkingVisitor|ScavengeVisitor|BodyDescriptor|HeapObject::SizeFromMap)|_Map_base<v8::internal::MemoryChunk|Builtins_RecordWrite/;
const COMPILE = /v8::internal::(compiler|maglev|baseline|Compiler|Deoptimizer|TranslatedState|Parser|Scanner|BytecodeGenerator|OptimizingCompileDispatcher|Zone)|Builtins_CompileLazy|Builtins_BaselineOutOfLine|Deoptimize/;

/** Samples of `perf script` output by owner (self) and by JavaScript owner anywhere on the stack. */
export function summarizePerf(script: string, pid: number): { samples: number; self: Map<string, number>; inclusive: Map<string, number> } {
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  let samples = 0;
  for (const block of script.split("\n\n")) {
    const lines = block.split("\n").filter(Boolean);
    const tid = /^\S+\s+(\d+)\s/.exec(lines[0] ?? "")?.[1];
    if (!tid || lines.length < 2) continue;
    samples += 1;
    const frames = lines.slice(1).map((line) => {
      const m = /^\s*[0-9a-f]+ (.*) \((.*)\)$/.exec(line);
      return m ? { symbol: m[1]!, dso: m[2]! } : { symbol: line.trim(), dso: "" };
    });
    const js = frames.findIndex((f) => f.symbol.startsWith("JS:"));
    const native = frames.slice(0, js < 0 ? frames.length : js);
    let owner: string;
    if (Number(tid) !== pid) {
      owner = frames.some((f) => GC.test(f.symbol)) ? "thread: GC (concurrent)" : frames.some((f) => COMPILE.test(f.symbol)) ? "thread: optimizing compiler" : "thread: other";
    } else if (frames[0]!.dso.includes("kernel")) {
      const call = frames.find((f) => !f.dso.includes("kernel"))?.symbol ?? "";
      owner = /writev|write|send/.test(call) ? "kernel: socket writes" : /read|recv/.test(call) ? "kernel: socket reads" : /epoll/.test(call) ? "kernel: epoll" : "kernel: other";
    } else if (native.some((f) => GC.test(f.symbol))) owner = "GC (main thread)";
    else if (native.some((f) => COMPILE.test(f.symbol))) owner = "compile / deoptimize (main thread)";
    else owner = js >= 0 ? ownerOfJsFrame(frames[js]!.symbol) : "native (node, libuv)";
    add(self, owner);
    const seen = new Set(frames.filter((f) => f.symbol.startsWith("JS:")).map((f) => ownerOfJsFrame(f.symbol)));
    for (const key of seen) add(inclusive, key);
  }
  return { samples, self, inclusive };
}

/** Samples `target`'s threads with perf under the uniform single-payment load; prints the owners. */
async function profile(target: { pid: number; baseUrl: string; apiKey: string }, uniform: Workload, warmup: number, label: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ledger-perf-"));
  try {
    await runServiceWorkload(target, { ...uniform, durationSeconds: warmup }, "connect");
    const data = join(dir, "perf.data");
    const perf = spawn("perf", ["record", "-q", "-e", "cpu-clock", "-F", "1999", "-g", "-p", String(target.pid), "-o", data], { stdio: "inherit" });
    const before = processCpuMs(target.pid);
    const m = await runServiceWorkload(target, uniform, "connect");
    const cpuMs = processCpuMs(target.pid) - before;
    perf.kill("SIGINT");
    await once(perf, "exit");
    const script = spawn("perf", ["script", "-i", data], { stdio: ["ignore", "pipe", "ignore"] });
    let text = "";
    script.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    await once(script, "exit");
    const { samples, self, inclusive } = summarizePerf(text, target.pid);
    const perPayment = cpuMs / Math.max(1, m.transactions);
    console.log(`\n## ${label}: ${m.tps.toFixed(0)} payments/s, CPU ${perPayment.toFixed(3)} ms/payment (/proc), ${samples} samples`);
    console.log("| owner | self % | self µs/payment | inclusive % |\n|---|---:|---:|---:|");
    for (const [owner, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_ROWS ?? 40))) {
      const incl = inclusive.get(owner);
      console.log(`| ${owner} | ${((100 * n) / samples).toFixed(1)} | ${((1000 * perPayment * n) / samples).toFixed(1)} | ${incl ? ((100 * incl) / samples).toFixed(1) : ""} |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The framework floor (framework-floor.ts) instead of the service: PROFILE_FLOOR names its stack. */
async function profileFloor(stack: FloorStack, uniform: Workload, warmup: number): Promise<void> {
  const commitMs = floorCommitMs(uniform.clients, Number(process.env.PROFILE_FLOOR_TPS ?? 365));
  const floor = await startFloor(stack, commitMs, { NODE_OPTIONS: "--perf-basic-prof" });
  try {
    await profile(floor, uniform, warmup, `framework floor ${stack}, commit every ${commitMs} ms`);
  } finally {
    await floor.stop();
  }
}

async function main(): Promise<void> {
  const root = resolve(process.argv[2] ?? ".");
  const config = benchConfigFromEnv();
  const uniform = workloadsOf(config, "bench-")[0]!;
  const warmup = Number(process.env.PROFILE_WARMUP ?? 10);
  if (process.env.PROFILE_FLOOR) return profileFloor(process.env.PROFILE_FLOOR as FloorStack, uniform, warmup);
  const postgres = startBackingService("postgres");
  try {
    await makeDurable(postgres);
    const here = process.cwd();
    process.chdir(root); // spawnService runs the scripts/start.mjs of the current directory
    const app = await startService(postgres.value, {
      DB_POOL_SIZE: String(config.poolSize),
      RATE_LIMIT_POINTS: "1000000000",
      NODE_OPTIONS: "--perf-basic-prof",
    }).finally(() => process.chdir(here));
    try {
      await seedAccounts({ baseUrl: app.baseUrl, apiKey: app.apiKey, prefix: "bench-", accounts: config.accounts, currency: config.currency, fundingCents: config.fundingCents });
      await profile(app, uniform, warmup, "single Connect");
    } finally {
      await app.stop();
    }
  } finally {
    postgres.stop();
  }
}

if (process.argv[1]?.endsWith("profile-cpu.ts")) await main();
