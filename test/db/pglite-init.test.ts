/**
 * A new embedded data directory is initialised by a child process (initdb's memory leaves with
 * it); an initialised one is left alone; a failure names the directory and says why.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { PGlite } from "@electric-sql/pglite";
import { initialiseInChild, isInitialised } from "../../src/db/pglite-init.js";
import { pgliteStartOptions } from "../../src/db/pglite-options.js";

const root = mkdtempSync(join(tmpdir(), "ledger-pglite-init-"));
after(() => rmSync(root, { recursive: true, force: true }));
const options = pgliteStartOptions(PGlite.defaultStartParams);

it("initialises an empty directory in a child process, and leaves an initialised one alone", async () => {
  const dataDir = join(root, "fresh");
  assert.equal(isInitialised(dataDir), false);
  await initialiseInChild(dataDir, options);
  assert.equal(isInitialised(dataDir), true);
  // A directory holding only PG_VERSION counts as initialised: nothing runs, nothing is written
  // (a child would have opened it, and failed on a cluster that is not there).
  const marked = join(root, "marked");
  mkdirSync(marked);
  writeFileSync(join(marked, "PG_VERSION"), "18\n");
  await initialiseInChild(marked, options);
  assert.deepEqual(readdirSync(marked), ["PG_VERSION"]);
});

it("reports a child that could not initialise the directory", async () => {
  const file = join(root, "a-file");
  writeFileSync(file, "not a directory");
  await assert.rejects(initialiseInChild(join(file, "data"), options), (error: Error) => {
    assert.match(error.message, new RegExp(`^initialising the embedded database in ${file}/data failed \\(exit 1\\): .+`));
    return true;
  });
});
