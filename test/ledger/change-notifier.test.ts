/** What a committed batch tells the other instances (pure: items and outcomes as ledger_apply gives them). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { changedKeys, payloadsOf } from "../../src/ledger/change-notifier.js";
import type { BatchItem, BatchOutcome } from "../../src/ledger/payment-batch.js";

const base = { at: "2026-01-01T00:00:00.000Z", eventId: "01JAAAAAAAAAAAAAAAAAAAAAAA", traceparent: null, clientId: "c", method: "M", requestHash: "h" };
const item = (fields: Record<string, unknown>) => ({ ...base, ...fields }) as unknown as BatchItem;

describe("changedKeys", () => {
  it("names every account of an item that took effect, from the item and from its result", () => {
    const items = [
      item({ kind: "deposit", key: "1", accountId: "alice", fundingAccountId: "funding.USD" }),
      item({ kind: "capture", key: "2", paymentId: "P" }),
      item({ kind: "refund", key: "3", paymentId: "Q" }),
    ];
    const outcomes: BatchOutcome[] = [
      { replayed: false, result: { accountId: "alice" } },
      { replayed: false, result: { payerAccountId: "bob", payeeAccountId: "shop" } },
      { replayed: false, result: { payment: { payerAccountId: "carol", payeeAccountId: "shop" } } },
    ];
    assert.deepEqual(changedKeys(items, outcomes).sort(), ["a:alice", "a:bob", "a:carol", "a:funding.USD", "a:shop", "p:alice", "p:bob", "p:carol", "p:funding.USD", "p:shop"]);
  });

  it("names nothing for refusals and replays: they wrote nothing", () => {
    const items = [item({ kind: "deposit", key: "1", accountId: "alice" }), item({ kind: "void", key: "2", paymentId: "P" })];
    const outcomes: BatchOutcome[] = [{ error: { code: "ACCOUNT_NOT_FOUND", field: "account_id", message: "x" } }, { replayed: true, result: { payerAccountId: "bob" } }];
    assert.deepEqual(changedKeys(items, outcomes), []);
  });
});

describe("payloadsOf", () => {
  it("splits the keys into payloads under PostgreSQL's 8,000-byte limit, none lost", () => {
    const keys = Array.from({ length: 2_000 }, (_, i) => `a:account-${i}`);
    const payloads = payloadsOf(keys);
    assert.ok(payloads.length > 1);
    assert.ok(payloads.every((p) => Buffer.byteLength(p) < 8_000));
    assert.deepEqual(payloads.flatMap((p) => p.split(" ")), keys);
    assert.deepEqual(payloadsOf([]), []);
  });
});
