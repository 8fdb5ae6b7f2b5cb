import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LedgerError } from "../../src/ledger/ledger-error.js";
import { fromStoredJson, toStoredJson } from "../../src/ledger/stored-json.js";
import {
  MAX_AMOUNT_CENTS,
  canonicalMetadata,
  requireAmount,
  requireCurrency,
  requireCustomerAccountId,
  requireIdempotencyKey,
  requireMetadata,
  requireText,
} from "../../src/ledger/validation.js";

function rejects(run: () => void, field: string, why: RegExp) {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof LedgerError);
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.equal(error.field, field);
    assert.match(error.message, why);
    return true;
  });
}

describe("validation rules", () => {
  it("counts metadata limits in code points and names the key; the canonical form ignores key order", () => {
    const code = (run: () => void) => {
      try {
        run();
        return "ok";
      } catch (error) {
        assert.ok(error instanceof LedgerError);
        return `${error.code} ${error.field}`;
      }
    };
    assert.equal(code(() => requireMetadata("metadata", { ["😀".repeat(40)]: "😀".repeat(500) })), "ok", "40 and 500 code points (twice as many UTF-16 units)");
    assert.equal(code(() => requireMetadata("metadata", { k: "😀".repeat(501) })), 'METADATA_VALUE_INVALID metadata["k"]');
    assert.equal(code(() => requireMetadata("metadata", { ["😀".repeat(41)]: "" })), `METADATA_KEY_INVALID metadata["${"😀".repeat(40)}..."]`);
    assert.equal(code(() => requireMetadata("metadata", { "\u202ekey": "v" })), 'METADATA_KEY_INVALID metadata["\u202ekey"]');
    assert.equal(code(() => requireMetadata("metadata", Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, ""])))), "METADATA_TOO_MANY_KEYS metadata");
    assert.equal(canonicalMetadata({ b: "2", a: "1" }), canonicalMetadata({ a: "1", b: "2" }));
    assert.notEqual(canonicalMetadata({ a: "1,b=2" }), canonicalMetadata({ a: "1", b: "2" }), "no two maps share a canonical form");
  });

  it("accepts amounts from 1 to 2^53-1 minor units only", () => {
    requireAmount("amount_cents", 1n);
    requireAmount("amount_cents", MAX_AMOUNT_CENTS);
    rejects(() => requireAmount("amount_cents", 0n), "amount_cents", /greater than 0/);
    rejects(() => requireAmount("amount_cents", MAX_AMOUNT_CENTS + 1n), "amount_cents", /at most 9007199254740991/);
  });

  it("accepts real ISO 4217 codes in upper case only", () => {
    for (const code of ["USD", "EUR", "JPY", "CHF"]) requireCurrency("currency", code);
    rejects(() => requireCurrency("currency", "usd"), "currency", /three-letter upper-case/);
    rejects(() => requireCurrency("currency", "US"), "currency", /three-letter/);
    rejects(() => requireCurrency("currency", "ABC"), "currency", /not an ISO 4217/);
  });

  it("bounds idempotency keys to 1-255 characters", () => {
    requireIdempotencyKey("idempotency_key", "k".repeat(255));
    rejects(() => requireIdempotencyKey("idempotency_key", ""), "idempotency_key", /required/);
    rejects(() => requireIdempotencyKey("idempotency_key", "k".repeat(256)), "idempotency_key", /255/);
  });

  it("keeps system account ids (with a dot) out of customer hands", () => {
    requireCustomerAccountId("account_id", "merchant_42-a");
    rejects(() => requireCustomerAccountId("account_id", "funding.USD"), "account_id", /A-Z a-z 0-9/);
    rejects(() => requireCustomerAccountId("account_id", "x".repeat(65)), "account_id", /1-64/);
  });

  it("limits free text and requires non-blank text where asked", () => {
    requireText("description", "", 500);
    rejects(() => requireText("display_name", "  ", 200, true), "display_name", /required/);
    rejects(() => requireText("description", "d".repeat(501), 500), "description", /at most 500/);
  });
});

describe("stored JSON", () => {
  it("round-trips bigint and Date exactly", () => {
    const value = { amount: 9_007_199_254_740_993n, at: new Date("2026-01-02T03:04:05.678Z"), nested: [{ n: -1n }], text: "x", none: null };
    assert.deepEqual(fromStoredJson(toStoredJson(value)), value);
  });
});

describe("hostile text and ids", () => {
  it("refuses NUL in text, which PostgreSQL cannot store", () => {
    requireText("description", "coffee ☕", 200);
    rejects(() => requireText("description", "a\u0000b", 200), "description", /NUL/);
  });

  it("refuses invisible characters in ids: BOM, zero-width, bidi controls, controls", () => {
    requireIdempotencyKey("idempotency_key", "order-42 é");
    for (const hidden of ["\uFEFF", "\u200B", "\u200D", "\u202E", "\u2066", "\u0007", "\u0000"]) {
      rejects(() => requireIdempotencyKey("idempotency_key", `order${hidden}42`), "idempotency_key", /invisible/);
    }
  });
});
