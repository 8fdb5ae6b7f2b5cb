/**
 * The embedded default runs with the shared buffers pglite-options.ts sets (the default 128 MB made
 * up most of an idle service's RSS), also on a data directory initialised before the setting
 * existed (the start parameter outranks postgresql.conf).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { sql } from "drizzle-orm";
import { openDatabase } from "../../src/db/client.js";
import { PGLITE_SHARED_BUFFERS } from "../../src/db/pglite-options.js";

const dataDir = mkdtempSync(join(tmpdir(), "ledger-pglite-options-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

async function sharedBuffers(): Promise<string> {
  const handle = await openDatabase({ pgliteDataDir: dataDir, poolSize: 1 });
  try {
    const result = await handle.db.execute(sql`show shared_buffers`);
    return (result as unknown as { rows: { shared_buffers: string }[] }).rows[0]!.shared_buffers;
  } finally {
    await handle.close();
  }
}

it(`runs PGlite with shared_buffers=${PGLITE_SHARED_BUFFERS}, written by initdb and set on every start`, async () => {
  assert.equal(await sharedBuffers(), PGLITE_SHARED_BUFFERS);
  assert.match(readFileSync(join(dataDir, "postgresql.conf"), "utf8"), new RegExp(`^shared_buffers = ${PGLITE_SHARED_BUFFERS}`, "m"));
  // A directory initialised with PostgreSQL's default: the start parameter still decides.
  const conf = join(dataDir, "postgresql.conf");
  writeFileSync(conf, readFileSync(conf, "utf8").replace(/^shared_buffers = .*$/m, "shared_buffers = 128MB"));
  assert.equal(await sharedBuffers(), PGLITE_SHARED_BUFFERS);
});
