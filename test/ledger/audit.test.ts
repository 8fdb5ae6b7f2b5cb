/**
 * ListAuditEvents' order and pages past the ids of one digit count: keyset pages by the audit id,
 * newest first, numerically (the id is a bigint read out as text).
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Ledger } from "../../src/ledger/ledger.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

let database: TestDatabase;
let ledger: Ledger;

before(async () => {
  database = await createTestDatabase(2);
  ledger = new Ledger(database.handle.db, { idempotencyTtlHours: 24 });
  // Twelve accounts opened: audit ids 1 to 12 (and more), across one and two digits.
  for (let n = 1; n <= 12; n++) await ledger.createAccount({ accountId: `audit-${n}`, currency: "EUR", displayName: `Audit ${n}` }, { clientId: "audit" });
});
after(() => database.drop());

it("lists audit events newest first by id, in pages that neither skip nor repeat", async () => {
  const all = (await ledger.listAuditEvents({ tenantId: "", accountId: "", pageSize: 500, pageToken: "" })).items;
  assert.ok(all.length >= 12, `${all.length} events`);
  const ids = all.map((event) => event.auditId);
  assert.deepEqual(ids, [...ids].sort((x, y) => (x > y ? -1 : x < y ? 1 : 0)), "newest first, numerically");
  assert.equal(all[0]!.subjectId, "audit-12", "the newest event first");
  const paged = [];
  let pageToken = "";
  do {
    const page = await ledger.listAuditEvents({ tenantId: "", accountId: "", pageSize: 5, pageToken });
    paged.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken);
  assert.deepEqual(paged.map((event) => event.auditId), ids);
});
