/**
 * Where the external load tools live: k6 is built by scripts/setup.d/go-tools.sh into .tools/bin;
 * pgbench comes with Debian's PostgreSQL packages.
 */
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";

/** The repository root (scripts/bench/../..). */
export const repoRoot = resolve(import.meta.dirname, "../..");

/** Path of the k6 binary: $K6_BIN, then .tools/bin/k6. Throws with the fix when it is missing. */
export function k6Binary(): string {
  const candidate = process.env.K6_BIN ?? join(repoRoot, ".tools/bin/k6");
  if (!existsSync(candidate)) throw new Error(`k6 not found at ${candidate}: run npm run setup`);
  return candidate;
}

/** Path of pgbench from the newest installed PostgreSQL (the same one postgres.sh starts). */
export function pgbenchBinary(): string {
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(a) - Number(b)) : [];
  const newest = versions.at(-1);
  const candidate = newest ? join(base, newest, "bin/pgbench") : "";
  if (!newest || !existsSync(candidate)) throw new Error("pgbench not found: run npm run setup");
  return candidate;
}
