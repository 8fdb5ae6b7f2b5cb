/**
 * Appends events to the transactional outbox inside the caller's transaction, so an event exists
 * if and only if the change it describes was committed. Every event is validated against its
 * TypeBox schema first: an invalid event aborts the transaction instead of reaching consumers.
 */
import { Value } from "typebox/value";
import { ulid } from "../ids/ulid.js";
import type { Transaction } from "../db/client.js";
import { outbox } from "../db/schema.js";
import {
  SCHEMA_VERSION,
  envelopeSchemas,
  eventCatalog,
  type EventEnvelope,
  type EventPayload,
  type EventType,
} from "./event-schemas.js";

/** Raised when the ledger tries to emit an event that does not match its schema (a bug). */
export class InvalidEventError extends Error {
  override readonly name = "InvalidEventError";
}

export interface AppendEventInput<T extends EventType> {
  type: T;
  aggregateId: string;
  payload: EventPayload<T>;
  occurredAt: Date;
  /** W3C traceparent of the request that caused the event, carried to Kafka headers. */
  traceparent?: string;
}

/**
 * For events a database function writes (the group-commit path): checks the event as it will be
 * written and returns the id to write it under, so that an invalid event never reaches the
 * database and the caller never handles an envelope.
 */
export function newEventId<T extends EventType>(input: Omit<AppendEventInput<T>, "traceparent">): string {
  return buildEnvelope(input).eventId;
}

/** Builds and validates the envelope of an event. Exported for the relay's dead-letter path. */
export function buildEnvelope<T extends EventType>(input: AppendEventInput<T>): EventEnvelope<T> {
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
  if (!Value.Check(schema, envelope)) {
    const [first] = Value.Errors(schema, envelope);
    throw new InvalidEventError(`${input.type} event is invalid at ${first?.instancePath}: ${first?.message}`);
  }
  return envelope as EventEnvelope<T>;
}

/** Validates the event and inserts its outbox row within `tx`. Returns the envelope written. */
export async function appendEvent<T extends EventType>(
  tx: Transaction,
  input: AppendEventInput<T>,
): Promise<EventEnvelope<T>> {
  const envelope = buildEnvelope(input);
  await tx.insert(outbox).values({
    eventId: envelope.eventId,
    eventType: envelope.type,
    aggregateType: envelope.aggregateType,
    aggregateId: envelope.aggregateId,
    envelope,
    traceparent: input.traceparent ?? null,
  });
  return envelope;
}
