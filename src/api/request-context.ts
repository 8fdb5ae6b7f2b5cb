/**
 * What handlers pass to the ledger about the caller: the authenticated client (set by an
 * interceptor in the context values), the trace context and the deadline signal.
 */
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { DEFAULT_TENANT } from "../db/schema.js";
import type { Caller, RequestContext } from "../ledger/records.js";
import type { Credential } from "./access.js";
import { spanContextOf } from "../telemetry/trace-context.js";

/** The client id requests run as when no authentication is configured. */
export const ANONYMOUS_CLIENT = "anonymous";

/** Context value holding the authenticated client id. */
export const clientIdKey = createContextKey<string>(ANONYMOUS_CLIENT, { description: "authenticated client id" });

/** The caller when authentication is off: the default tenant, no key, no account limit. */
export const ANONYMOUS_CALLER: Caller = { tenantId: DEFAULT_TENANT, keyId: null, tokenId: null, accountIds: null };

/** Context value holding the authenticated caller's boundary (set by the auth interceptor). */
export const callerKey = createContextKey<Caller>(ANONYMOUS_CALLER, { description: "authenticated caller" });

/** Context value holding the credential (API key or account token); null when authentication is off. */
export const credentialKey = createContextKey<Credential | null>(null, { description: "credential" });

/** Context value holding the request id (from `x-request-id` or generated). */
export const requestIdKey = createContextKey<string>("", { description: "request id" });

/** Context value holding the request's W3C traceparent (the caller's, or one started here). */
export const traceparentKey = createContextKey<string>("", { description: "W3C traceparent" });

/** Builds the ledger's view of the request from a Connect handler context. */
export function requestContextOf(context: HandlerContext): RequestContext {
  // The RPC observer's traceparent is well formed (it wrote or checked it); a header is checked here.
  const traceparent = context.values.get(traceparentKey) || wellFormed(context.requestHeader.get("traceparent"));
  return {
    clientId: context.values.get(clientIdKey),
    caller: context.values.get(callerKey),
    traceparent,
    signal: context.signal,
  };
}

function wellFormed(traceparent: string | null): string | undefined {
  return traceparent && spanContextOf(traceparent) ? traceparent : undefined;
}
