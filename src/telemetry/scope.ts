/**
 * The instrumentation scope (meter and tracer name) every part of the service uses. A module of
 * its own so that instrumented modules (ledger, relay) need not load the SDK setup to name it.
 */
export const TELEMETRY_SCOPE = "payment-ledger";
