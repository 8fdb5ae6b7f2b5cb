/**
 * `npm run measure:embedded-memory`: the embedded default's memory as `npm start` runs it (same
 * node flags), on a fresh PGlite data directory: peak (VmHWM) and resident (VmRSS) set size when
 * it starts listening and after IDLE_SECONDS (default 30) idle, for the first start (a child
 * unpacks setup's template, or runs initdb without one; the service migrates) and a second start
 * on the same directory. ROUNDS (default 3) repeats it.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, spawnService } from "../test/support/process.js";

const idleSeconds = Number(process.env.IDLE_SECONDS ?? 30);
const rounds = Number(process.env.ROUNDS ?? 3);

function memory(pid: number): { hwm: number; rss: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const mb = (name: string) => Math.round(Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1]) / 1024);
  return { hwm: mb("VmHWM"), rss: mb("VmRSS") };
}

console.log(`start   round  listening after  VmHWM at listening  VmRSS at listening  VmHWM after ${idleSeconds}s idle  VmRSS after ${idleSeconds}s idle`);
for (let round = 1; round <= rounds; round++) {
  const dataDir = mkdtempSync(join(tmpdir(), "ledger-embedded-memory-"));
  try {
    for (const start of ["first", "second"]) {
      const began = performance.now();
      const service = spawnService({ PORT: String(await freePort()), PGLITE_DATA_DIR: dataDir, LOG_LEVEL: "info" });
      await service.waitFor(/"msg":"listening/, 120_000);
      const startup = ((performance.now() - began) / 1000).toFixed(1);
      const atListening = memory(service.child.pid!);
      await sleep(idleSeconds * 1000);
      const idle = memory(service.child.pid!);
      const code = await service.stop("SIGTERM");
      if (code !== 0) throw new Error(`service exited ${code}:\n${service.output()}`);
      console.log(
        [start.padEnd(7), String(round).padStart(5), `${startup} s`.padStart(16), `${atListening.hwm} MB`.padStart(19),
          `${atListening.rss} MB`.padStart(19), `${idle.hwm} MB`.padStart(24), `${idle.rss} MB`.padStart(24)].join("  "),
      );
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
