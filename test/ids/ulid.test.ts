/** The pooled ULID generator: valid, time-ordered, and unique across pool refills. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { decodeTime, isValid } from "ulid";
import { ulid } from "../../src/ids/ulid.js";

it("ulids are valid, carry the current time and do not repeat across pool refills", () => {
  const before = Date.now();
  // 20 000 ids draw 320 000 random bytes: the 4 KiB pool is refilled many times.
  const ids = Array.from({ length: 20_000 }, () => ulid());
  const after = Date.now();
  assert.equal(new Set(ids).size, ids.length);
  for (const id of [ids[0]!, ids.at(-1)!]) {
    assert.ok(isValid(id), id);
    const time = decodeTime(id);
    assert.ok(time >= before && time <= after, `${id} time ${time} within [${before}, ${after}]`);
  }
  // Random characters are spread over the whole alphabet, not stuck on a refill artefact.
  const lastChars = new Set(ids.map((id) => id.at(-1)));
  assert.equal(lastChars.size, 32);
});
