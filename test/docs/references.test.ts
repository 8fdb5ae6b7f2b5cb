/**
 * What the code and the docs point a reader at exists: every repository path named in a comment,
 * a doc or a script (`src/ledger/sql/30-ledger-apply.sql`, `docs/relay.md`, a bare SQL source name
 * like `26-ledger-apply-moves.sql`), and every ledger SQL function named with its parentheses
 * (`ledger_apply_moves(`) is defined by some SQL source. Migrations are history and are not read:
 * they may name what later migrations removed. Test files name compiled `.js` twins of `.ts`
 * sources (ES module imports), and the client package's build names its `.d.ts`: those count as the
 * `.ts` file.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";

const ROOT = join(import.meta.dirname, "../..");
const READ = ["src", "docs", "scripts", "test", "k6", "README.md", "Dockerfile", "compose.yaml", "package.json"];
const SQL_DIRS = ["src/ledger/sql", "src/relay/sql"];

function filesUnder(path: string): string[] {
  const full = join(ROOT, path);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full).flatMap((name) => (name === "node_modules" ? [] : filesUnder(join(path, name))));
}

const texts = READ.flatMap(filesUnder)
  .filter((file) => /\.(ts|mjs|js|sql|md|sh|yaml|json|html)$|Dockerfile$/.test(file))
  .map((file) => ({ file, text: readFileSync(join(ROOT, file), "utf8") }));

const exists = (path: string) => existsSync(join(ROOT, path)) || existsSync(join(ROOT, path.replace(/(\.d\.ts|\.js)$/, ".ts")));

it("every repository path named in the code, docs and scripts exists", () => {
  const missing = new Set<string>();
  for (const { file, text } of texts) {
    for (const [path] of text.matchAll(/\b(?:src|test|scripts|docs|k6|schemas|drizzle|proto|examples)\/[A-Za-z0-9_./-]+\.(?:ts|sql|md|js|mjs|sh|json|yaml)\b/g)) {
      if (!exists(path)) missing.add(`${file}: ${path}`);
    }
    for (const [name] of text.matchAll(/\b[0-9]{2}-[a-z0-9-]+\.sql\b/g)) {
      if (!SQL_DIRS.some((dir) => existsSync(join(ROOT, dir, name)))) missing.add(`${file}: ${name}`);
    }
  }
  assert.deepEqual([...missing], []);
});

it("every ledger and outbox SQL function named as a call is defined by a SQL source", () => {
  const defined = new Set<string>();
  for (const dir of SQL_DIRS) {
    for (const file of filesUnder(dir)) {
      for (const [, name] of readFileSync(join(ROOT, file), "utf8").matchAll(/CREATE OR REPLACE FUNCTION ((?:ledger|outbox)_[a-z0-9_]+)\(/gi)) defined.add(name!.toLowerCase());
    }
  }
  assert.ok(defined.has("ledger_apply"), "the SQL sources were read");
  const unknown = new Set<string>();
  for (const { file, text } of texts) {
    // A function dropped on purpose is named by its DROP; that is not a call.
    const dropped = new Set([...text.matchAll(/DROP FUNCTION IF EXISTS ((?:ledger|outbox)_[a-z0-9_]+)/gi)].map((m) => m[1]!.toLowerCase()));
    for (const [, name] of text.matchAll(/\b((?:ledger|outbox)_[a-z0-9_]+)\(/g)) {
      if (!defined.has(name!) && !dropped.has(name!)) unknown.add(`${file}: ${name}`);
    }
  }
  assert.deepEqual([...unknown], []);
});
