/** Kafka header names carried by every message the relay publishes and consumers read. */
export const HEADERS = { eventId: "event-id", eventType: "event-type", traceparent: "traceparent" } as const;
