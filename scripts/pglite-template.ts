/**
 * `npm run setup` step: the embedded default's initialised cluster, made once here so that the
 * service's first start unpacks it instead of running PGlite's initdb (src/db/pglite-init.ts).
 */
import { PGlite } from "@electric-sql/pglite";
import { templateFile, writeTemplate } from "../src/db/pglite-init.js";
import { pgliteStartOptions } from "../src/db/pglite-options.js";

const file = templateFile();
const written = await writeTemplate(pgliteStartOptions(PGlite.defaultStartParams), file);
console.log(written ? `setup: embedded database template written to ${file}` : `setup: embedded database template present (${file})`);
