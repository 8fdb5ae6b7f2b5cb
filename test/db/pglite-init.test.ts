/**
 * A new embedded data directory is initialised by a child process (initdb's memory leaves with
 * it), from setup's template when there is one; an initialised one is left alone; a failure names
 * the directory and says why.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { PGlite } from "@electric-sql/pglite";
import { initialiseInChild, isInitialised, writeTemplate } from "../../src/db/pglite-init.js";
import { pgliteStartOptions } from "../../src/db/pglite-options.js";

const root = mkdtempSync(join(tmpdir(), "ledger-pglite-init-"));
after(() => rmSync(root, { recursive: true, force: true }));
const options = pgliteStartOptions(PGlite.defaultStartParams);

it("initialises an empty directory in a child process, and leaves an initialised one alone", async () => {
  const dataDir = join(root, "fresh");
  assert.equal(isInitialised(dataDir), false);
  await initialiseInChild(dataDir, options, join(root, "no-template.tar.gz"));
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

it("writes a template once, and a new directory initialised from a template holds the template's cluster", async () => {
  const template = join(root, "template.tar.gz");
  assert.equal(await writeTemplate(options, template), true);
  assert.equal(await writeTemplate(options, template), false, "an existing template is kept");
  // A template with a table in it: the directory made from it has the table, so it was unpacked, not initdb'd.
  const source = await PGlite.create(options);
  await source.exec("create table from_template (id int); insert into from_template values (7)");
  const marked = join(root, "marked-template.tar.gz");
  writeFileSync(marked, new Uint8Array(await (await source.dumpDataDir("gzip")).arrayBuffer()));
  await source.close();
  const dataDir = join(root, "from-template");
  await initialiseInChild(dataDir, options, marked);
  const opened = await PGlite.create(dataDir, options);
  try {
    assert.deepEqual((await opened.query<{ id: number }>("select id from from_template")).rows, [{ id: 7 }]);
  } finally {
    await opened.close();
  }
});
