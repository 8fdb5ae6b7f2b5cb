/**
 * CORS for browser clients (Connect and gRPC-Web) from the configured origins. The header lists
 * come from @connectrpc/connect's `cors`, plus this API's own: the bearer key and request/trace
 * ids going in, request ids and retry delays coming out. Requests from other origins get no CORS
 * headers, so browsers refuse them; non-browser clients are unaffected.
 */
import { cors as connectCors } from "@connectrpc/connect";
import type { FastifyInstance } from "fastify";

const ALLOWED_HEADERS = [...connectCors.allowedHeaders, "Authorization", "X-Request-Id", "Traceparent"].join(", ");
const EXPOSED_HEADERS = [...connectCors.exposedHeaders, "X-Request-Id", "Retry-After", "Retry-After-Ms"].join(", ");
/** Browsers may cache a preflight this long (seconds). */
const PREFLIGHT_MAX_AGE = "7200";

/** Parses CORS_ORIGINS: "" (none), "*" (any) or a comma-separated list of origins. */
export function parseOrigins(spec: string): { any: boolean; origins: Set<string> } {
  const items = spec.split(",").map((origin) => origin.trim().replace(/\/$/, "")).filter(Boolean);
  return { any: items.includes("*"), origins: new Set(items.filter((origin) => origin !== "*")) };
}

export function registerCors(app: FastifyInstance, originsSpec: string): void {
  const { any, origins } = parseOrigins(originsSpec);
  if (!any && origins.size === 0) return;
  app.addHook("onRequest", async (request, reply) => {
    const origin = request.headers.origin;
    if (!origin || (!any && !origins.has(origin))) return;
    reply.header("access-control-allow-origin", any ? "*" : origin);
    if (!any) reply.header("vary", "Origin");
    reply.header("access-control-expose-headers", EXPOSED_HEADERS);
    if (request.method === "OPTIONS" && request.headers["access-control-request-method"]) {
      return reply
        .code(204)
        .header("access-control-allow-methods", connectCors.allowedMethods.join(", "))
        .header("access-control-allow-headers", ALLOWED_HEADERS)
        .header("access-control-max-age", PREFLIGHT_MAX_AGE)
        .send();
    }
  });
}
