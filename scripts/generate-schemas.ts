/**
 * Writes one JSON Schema file per event envelope (and the dead-letter record) into the folder named by --out (default
 * schemas/), from the TypeBox definitions in src/outbox/event-schemas.ts.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { publishedSchemas, typeSlug } from "../src/outbox/event-schemas.js";

const { values } = parseArgs({ options: { out: { type: "string", default: "schemas" } } });
const out = values.out!;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const [type, schema] of Object.entries(publishedSchemas)) {
  const file = typeSlug(type) + ".json";
  const document = { $schema: "http://json-schema.org/draft-07/schema#", ...schema };
  writeFileSync(join(out, file), JSON.stringify(document, null, 2) + "\n");
}
