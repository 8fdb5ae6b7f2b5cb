/**
 * A new embedded data directory, made in a child process. PGlite's initdb is the most
 * memory-hungry thing the embedded default does (a process doing only that peaks at about 700 MB:
 * a second PGlite instance, the initdb WASM module and a tarball of the new cluster), and what it
 * leaves behind in the process that ran it is freed only when V8 gets around to collecting it.
 * `npm run setup` therefore runs initdb once, in its own process, and keeps the new cluster as a
 * template (`dumpDataDir`, under .tools/, named by PGlite's version); a first start unpacks the
 * template (PGlite's `loadDataDir`) instead. Without a template (no setup, another PGlite version)
 * the child runs initdb itself: slower and bigger, same result. Either way all of it is returned
 * to the system when the child exits. Figures: README, "Memory of the embedded default".
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PgliteStartOptions } from "./pglite-options.js";

/**
 * The child: opens (so initialises) the directory with the service's options, from the template
 * when there is one, then closes it.
 */
const CHILD = `
const [pgliteUrl, dataDir, options, template] = process.argv.slice(1);
const { PGlite } = await import(pgliteUrl);
const { readFileSync } = await import("node:fs");
const loadDataDir = template ? new Blob([readFileSync(template)]) : undefined;
const pglite = await PGlite.create(dataDir, { ...JSON.parse(options), loadDataDir });
await pglite.close();
`;

/** PGlite's version, which names its template: a cluster from another version may not open. */
function pgliteVersion(): string {
  const manifest = join(dirname(fileURLToPath(import.meta.resolve("@electric-sql/pglite"))), "..", "package.json");
  return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
}

/** Where `npm run setup` keeps the initialised cluster for this PGlite version. */
export function templateFile(): string {
  return fileURLToPath(new URL(`../../.tools/pglite-template/pglite-${pgliteVersion()}.tar.gz`, import.meta.url));
}

/**
 * Runs initdb in this process (an in-memory PGlite with the service's options) and writes the
 * cluster to `file` (default templateFile()); a no-op when it exists. For `npm run setup`.
 */
export async function writeTemplate(options: PgliteStartOptions, file = templateFile()): Promise<boolean> {
  if (existsSync(file)) return false;
  const { PGlite } = await import("@electric-sql/pglite");
  const pglite = await PGlite.create(options);
  const tarball = await pglite.dumpDataDir("gzip");
  await pglite.close();
  mkdirSync(dirname(file), { recursive: true });
  // Renamed into place: a start at the same moment sees the whole template or none.
  writeFileSync(`${file}.${process.pid}`, new Uint8Array(await tarball.arrayBuffer()));
  renameSync(`${file}.${process.pid}`, file);
  return true;
}

/** Whether PGlite has initialised `dataDir` (PostgreSQL writes PG_VERSION there). */
export const isInitialised = (dataDir: string) => existsSync(join(dataDir, "PG_VERSION"));

/**
 * Initialises `dataDir` in a child process when it has no cluster yet, from `template` when that
 * file exists; a no-op when the directory has a cluster.
 */
export async function initialiseInChild(dataDir: string, options: PgliteStartOptions, template = templateFile()): Promise<void> {
  if (isInitialised(dataDir)) return;
  const pgliteUrl = import.meta.resolve("@electric-sql/pglite");
  const from = existsSync(template) ? template : "";
  // Liftoff only (as npm start): V8's optimising WASM compiler would add ~75 MB to the child's peak.
  const child = spawn(process.execPath, ["--liftoff-only", "--input-type=module", "-e", CHILD, pgliteUrl, dataDir, JSON.stringify(options), from], {
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
