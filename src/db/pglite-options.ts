/**
 * PGlite settings of the embedded default (no DATABASE_URL). PostgreSQL's shared buffers live in
 * the WASM memory, and pages of it once touched stay resident for the life of the process: the
 * default 128 MB made up most of an idle service's RSS. 16 MB holds a development ledger's hot
 * pages. Measured figures (npm run measure:embedded-memory) are in the README.
 */
export const PGLITE_SHARED_BUFFERS = "16MB";

export interface PgliteStartOptions {
  startParams: string[];
  initDbStartParams: string[];
}

/** PGlite's own start parameters plus ours; initdb writes the same into postgresql.conf. */
export function pgliteStartOptions(defaultStartParams: readonly string[]): PgliteStartOptions {
  const setting = ["-c", `shared_buffers=${PGLITE_SHARED_BUFFERS}`];
  return { startParams: [...defaultStartParams, ...setting], initDbStartParams: setting };
}
