/**
 * Applies the rate limits to every API call, keyed by the authenticated client, else by the
 * caller's address, and then the caller's tenant's limit (all its clients together). A refusal is RESOURCE_EXHAUSTED and says when to retry, in `retry-after`
 * (whole seconds, as HTTP has it) and `retry-after-ms`: response headers for Connect and gRPC-Web,
 * trailers for gRPC.
 */
import { createContextKey, type Interceptor } from "@connectrpc/connect";
import type { Counter } from "@opentelemetry/api";
import { catalogueError, EdgeErrorCode } from "../api/error-catalogue.js";
import { procedureOf } from "../api/procedures.js";
import { ANONYMOUS_CLIENT, callerKey, clientIdKey } from "../api/request-context.js";
import { isOpenService } from "../auth/open-services.js";
import type { RateLimits } from "./rate-limits.js";

/**
 * Context value holding the caller's network address: the server sets it (interceptors see no
 * socket), the limiter keys anonymous callers by it.
 */
export const peerAddressKey = createContextKey<string>("unknown", { description: "peer address" });

/** `rejections` counts refused calls by method. */
export function rateLimitInterceptor(limits: RateLimits, rejections: Counter): Interceptor {
  return (next) => async (request) => {
    if (isOpenService(request.service.typeName)) return next(request);
    const clientId = request.contextValues.get(clientIdKey);
    const key = clientId === ANONYMOUS_CLIENT ? `ip:${request.contextValues.get(peerAddressKey)}` : `client:${clientId}`;
    const procedure = procedureOf(request.service, request.method);
    let decision = await limits.consume(procedure, key);
    let what = `rate limit exceeded for ${procedure}`;
    if (decision.allowed && limits.limitsTenants) {
      const { tenantId } = request.contextValues.get(callerKey);
      decision = await limits.consumeTenant(tenantId);
      what = `rate limit of tenant ${tenantId} exceeded`;
    }
    if (!decision.allowed) {
      rejections.add(1, { "rpc.method": procedure });
      const retryAfterMs = Math.max(1, Math.ceil(decision.retryAfterMs));
      throw catalogueError(EdgeErrorCode.RATE_LIMITED, `${what}: retry in ${retryAfterMs} ms`, {
        "retry-after": String(Math.ceil(retryAfterMs / 1000)),
        "retry-after-ms": String(retryAfterMs),
      });
    }
    return next(request);
  };
}
