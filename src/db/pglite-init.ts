/**
 * PGlite's initdb in a child process. Initialising an empty data directory is the most
 * memory-hungry thing the embedded default does (a process doing only that peaks at about 700 MB:
 * a second PGlite instance, the initdb WASM module and a tarball of the new cluster), and what it
 * leaves behind in the process that ran it is freed only when V8 gets around to collecting it.
 * Run in a child, all of it is returned to the system when the child exits, and the service
 * process starts as on any later start. Figures: README, "Memory of the embedded default".
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { PgliteStartOptions } from "./pglite-options.js";

/** The child: opens (so initialises) the directory with the service's options, then closes it. */
const CHILD = `
const [pgliteUrl, dataDir, options] = process.argv.slice(1);
const { PGlite } = await import(pgliteUrl);
const pglite = await PGlite.create(dataDir, JSON.parse(options));
await pglite.close();
`;

/** Whether PGlite has initialised `dataDir` (PostgreSQL writes PG_VERSION there). */
export const isInitialised = (dataDir: string) => existsSync(join(dataDir, "PG_VERSION"));

/** Initialises `dataDir` in a child process when it has no cluster yet; a no-op otherwise. */
export async function initialiseInChild(dataDir: string, options: PgliteStartOptions): Promise<void> {
  if (isInitialised(dataDir)) return;
  const pgliteUrl = import.meta.resolve("@electric-sql/pglite");
  const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD, pgliteUrl, dataDir, JSON.stringify(options)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0 || !isInitialised(dataDir)) {
    throw new Error(`initialising the embedded database in ${dataDir} failed (exit ${code}): ${stderr.trim().slice(-2_000)}`);
  }
}
