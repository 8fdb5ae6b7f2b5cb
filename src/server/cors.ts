/**
 * CORS for browser clients (Connect and gRPC-Web) from the configured origins, with
 * `@fastify/cors` and the header lists from `@connectrpc/connect`'s `cors` (connect-es's own
 * recipe), plus this API's own: the bearer key and request/trace ids going in, request ids and
 * retry delays coming out. Requests from other origins get no CORS headers at all (not even on a
 * preflight), so browsers refuse them; non-browser clients are unaffected.
 */
import { cors as connectCors } from "@connectrpc/connect";
import fastifyCors from "@fastify/cors";
import type { FastifyInstance } from "fastify";

const ALLOWED_HEADERS = [...connectCors.allowedHeaders, "Authorization", "X-Request-Id", "Traceparent"];
const EXPOSED_HEADERS = [...connectCors.exposedHeaders, "X-Request-Id", "Retry-After", "Retry-After-Ms"];
/** Browsers may cache a preflight this long (seconds). */
const PREFLIGHT_MAX_AGE = 7200;

/** Parses CORS_ORIGINS: "" (none), "*" (any) or a comma-separated list of origins. */
export function parseOrigins(spec: string): { any: boolean; origins: Set<string> } {
  const items = spec.split(",").map((origin) => origin.trim().replace(/\/$/, "")).filter(Boolean);
  return { any: items.includes("*"), origins: new Set(items.filter((origin) => origin !== "*")) };
}

/** Registers `@fastify/cors` for the origins in `originsSpec`; nothing when it names none. */
export function registerCors(app: FastifyInstance, originsSpec: string): void {
  const { any, origins } = parseOrigins(originsSpec);
  if (!any && origins.size === 0) return;
  void app.register(fastifyCors, {
    // A function rather than the list: for an origin not listed it answers `false`, which turns
    // CORS off for that request entirely (a list would still send the preflight's other headers).
    origin: any ? "*" : (origin, callback) => callback(null, origin !== undefined && origins.has(origin) ? origin : false),
    methods: [...connectCors.allowedMethods],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE,
  });
}
