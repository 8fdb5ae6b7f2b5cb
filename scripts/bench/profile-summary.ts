/**
 * Where a V8 CPU profile (.cpuprofile from `node --cpu-prof`) spent its time, grouped by owner:
 * an npm package, a directory of src/, or a part of Node itself. Self time (each sample counted
 * once, at the function it was taken in; builtins without a script, such as JSON.parse or a
 * RegExp, count for the nearest caller that has one), plus the share of samples with any frame of
 * an owner on the stack (inclusive), which is what cutting that owner could save at most.
 * Usage: tsx scripts/bench/profile-summary.ts <file.cpuprofile> [payments]
 */
import { existsSync, readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber?: number; columnNumber?: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The owner of a frame: "pkg:<name>", "src/<dir>", "node:<module>" or a V8 pseudo-frame. */
export function ownerOf(frame: ProfileNode["callFrame"]): string {
  const { url, functionName } = frame;
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return `pkg:${pkg[1]}`;
  const src = /\/(src|gen)\/([^/]+)\//.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  const internal = /^node:(?:internal\/)?([^/]+)/.exec(url);
  if (internal) return `node:${internal[1]}`;
  return url;
}

/**
 * The service runs from an esbuild bundle (scripts/start.mjs: .tmp/start/main-<hash>.mjs), where all
 * of src/ is one file: frames in it get the url of their source file (from the bundle's source map
 * beside it), so that they are owned by their src/ directory. Changes `profile` in place.
 */
export function mapBundleFrames(profile: CpuProfile): CpuProfile {
  const maps = new Map<string, SourceMap | undefined>();
  for (const { callFrame } of profile.nodes) {
    if (!/\/main-[0-9a-f]+\.mjs$/.test(callFrame.url)) continue;
    if (!maps.has(callFrame.url)) {
      const file = `${callFrame.url.startsWith("file:") ? fileURLToPath(callFrame.url) : callFrame.url}.map`;
      maps.set(callFrame.url, existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, "utf8"))) : undefined);
    }
    const entry = maps.get(callFrame.url)?.findEntry(callFrame.lineNumber ?? 0, callFrame.columnNumber ?? 0);
    if (entry && "originalSource" in entry && entry.originalSource) callFrame.url = entry.originalSource;
  }
  return profile;
}

/** The functions with the most self time, as "owner function" with milliseconds. */
export function topFunctions(profile: CpuProfile, count: number): { name: string; selfMs: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === "(idle)") return;
    const name = `${ownerOf(frame)} ${frame.functionName || "(anonymous)"}${frame.url ? ` ${frame.url.split("/").slice(-1)[0]}` : ""}`;
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...self.entries()].map(([name, selfMs]) => ({ name, selfMs })).sort((a, b) => b.selfMs - a.selfMs).slice(0, count);
}

export function summarize(profile: CpuProfile): { owner: string; selfMs: number; inclusiveMs: number }[] {
  mapBundleFrames(profile);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  // Stopping the profiler (cpu-profile-hook.mjs) is the measurement, not the service.
  const measuring = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      if (byId.get(at)!.callFrame.url.endsWith("cpu-profile-hook.mjs")) return true;
    }
    return false;
  };
  const ownerOfSample = (id: number): string => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const owner = ownerOf(byId.get(at)!.callFrame);
      if (owner !== "(native)") return owner;
    }
    return "(native)";
  };
  profile.samples.forEach((id, i) => {
    if (measuring(id)) return;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const own = ownerOfSample(id);
    self.set(own, (self.get(own) ?? 0) + ms);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) seen.add(ownerOf(byId.get(at)!.callFrame));
    for (const owner of seen) inclusive.set(owner, (inclusive.get(owner) ?? 0) + ms);
  });
  return [...self.entries()]
    .map(([owner, selfMs]) => ({ owner, selfMs, inclusiveMs: inclusive.get(owner) ?? selfMs }))
    .sort((a, b) => b.selfMs - a.selfMs);
}

if (process.argv[1]?.endsWith("profile-summary.ts")) {
  const [file, payments] = process.argv.slice(2);
  if (!file) throw new Error("usage: profile-summary.ts <file.cpuprofile> [payments]");
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const rows = summarize(profile);
  const busy = rows.filter((r) => r.owner !== "(idle)").reduce((sum, r) => sum + r.selfMs, 0);
  const per = payments ? Number(payments) : 0;
  console.log(`busy ${busy.toFixed(0)} ms${per ? `, ${(busy / per).toFixed(3)} ms per payment (${per} payments)` : ""}`);
  console.log("owner                                   self ms   self %  inclusive %" + (per ? "  self us/payment" : ""));
  for (const r of rows.filter((r) => r.owner !== "(idle)").slice(0, 30)) {
    console.log(
      `${r.owner.padEnd(38)} ${r.selfMs.toFixed(0).padStart(8)} ${((100 * r.selfMs) / busy).toFixed(1).padStart(8)} ${((100 * r.inclusiveMs) / busy).toFixed(1).padStart(12)}` +
        (per ? ` ${((1000 * r.selfMs) / per).toFixed(1).padStart(16)}` : ""),
    );
  }
}

if (process.argv[1]?.endsWith("profile-summary.ts") && process.env.TOP) {
  const profile = mapBundleFrames(JSON.parse(readFileSync(process.argv[2]!, "utf8")) as CpuProfile);
  for (const f of topFunctions(profile, Number(process.env.TOP))) console.log(`${f.selfMs.toFixed(0).padStart(7)} ms  ${f.name}`);
}
