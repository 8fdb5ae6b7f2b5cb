/**
 * Event envelopes as the ledger writes them (src/ledger/sql/10-ledger-helpers.sql ledger_envelope),
 * for tests that feed consumers directly: built from a type and a payload, checked against the
 * envelope's TypeBox schema (src/outbox/event-schemas.ts) so a test cannot send an invalid one by
 * mistake.
 */
import { Value } from "typebox/value";
import { ulid } from "../../src/ids/ulid.js";
import { SCHEMA_VERSION, envelopeSchemas, eventCatalog, type EventEnvelope, type EventPayload, type EventType } from "../../src/outbox/event-schemas.js";

export function buildEnvelope<T extends EventType>(input: { type: T; aggregateId: string; payload: EventPayload<T>; occurredAt: Date }): EventEnvelope<T> {
  const envelope = {
    eventId: ulid(),
    type: input.type,
    schemaVersion: SCHEMA_VERSION,
    occurredAt: input.occurredAt.toISOString(),
    aggregateType: eventCatalog[input.type].aggregateType,
    aggregateId: input.aggregateId,
    payload: input.payload,
  };
  const schema = envelopeSchemas[input.type];
  if (!Value.Check(schema, envelope)) throw new Error(`${input.type} envelope is invalid: ${[...Value.Errors(schema, envelope)][0]?.message}`);
  return envelope as EventEnvelope<T>;
}
