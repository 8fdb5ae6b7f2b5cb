import assert from "node:assert/strict";
import { it } from "node:test";
import { ulid } from "ulid";
import { SchemaValidator } from "../../src/consumer/schema-validator.js";
import { buildEnvelope } from "../support/events.js";

const validator = new SchemaValidator();

it("accepts an envelope the writer builds, checked against the committed schemas/ files", () => {
  const envelope = buildEnvelope({
    type: "AccountCreated",
    aggregateId: "acct-1",
    occurredAt: new Date(),
    payload: { accountId: "acct-1", currency: "EUR", displayName: "A", createdAt: new Date().toISOString() },
  });
  assert.deepEqual(validator.problems("AccountCreated", envelope), []);
});

it("reports what is wrong, and unknown types", () => {
  const bad = { eventId: ulid(), type: "FundsDeposited", payload: { amountCents: 5 } };
  const problems = validator.problems("FundsDeposited", bad);
  assert.ok(problems.some((p) => p.includes("schemaVersion")), problems.join("; "));
  assert.deepEqual(validator.problems("Nope", {}), ['no schema for type "Nope"']);
});
