import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { catalogueMarkdown, errorCatalogue, excerpt } from "../../src/api/error-catalogue.js";
import { LedgerErrorCode } from "../../src/ledger/ledger-error.js";

describe("error catalogue", () => {
  it("is the README's error table", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const table = /<!-- error-catalogue:start -->\n([\s\S]*?)\n<!-- error-catalogue:end -->/.exec(readme)?.[1];
    assert.equal(table, catalogueMarkdown(), "README table differs: paste catalogueMarkdown()'s output between the markers");
  });

  it("lists every ledger code", () => {
    for (const code of Object.values(LedgerErrorCode)) assert.ok(errorCatalogue[code], code);
  });

  it("echoes only a short printable prefix of client input", () => {
    assert.equal(excerpt("a\u0000b"), "a?b");
    assert.ok(excerpt("k".repeat(100_000)).length < 100);
  });
});
