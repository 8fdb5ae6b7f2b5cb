/**
 * Counts API requests refused before they reached a handler: bodies over `READ_MAX_BYTES`,
 * messages that do not decode, unsupported content types. Those never pass through the
 * interceptors (Connect decodes the request before it calls them), so the RPC duration histogram
 * cannot see them; this counter does, from Fastify's `onResponse`.
 *
 * The edge's Connect routes (connect-routes.ts) gives every Connect request a marker in its context
 * values; the RPC observer sets it when the call reaches the interceptors. A marked request whose
 * response goes out with the marker unset was refused. Unknown routes get a marker too (the
 * not-found handler in edge-responses.ts), counted under `rpc.method` "unknown" to keep the label bounded.
 */
import { createContextKey } from "@connectrpc/connect";
import type { Counter, Meter } from "@opentelemetry/api";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { API_PROCEDURES } from "../api/procedures.js";
import { rpcSystemOf } from "./rpc-system.js";

interface Marker {
  reached: boolean;
}

const markers = new WeakMap<object, Marker>();

/** Context value the RPC observer marks; absent for calls that do not come through Fastify. */
export const reachedKey = createContextKey<Marker | undefined>(undefined, { description: "request reached the interceptors" });

/** A fresh marker for `request`, to put into its Connect context values under `reachedKey`. */
export function markerFor(request: FastifyRequest): Marker {
  const marker = { reached: false };
  markers.set(request.raw, marker);
  return marker;
}

/** Adds the `rpc.server.rejected_requests` counter and the hook that feeds it. */
export function countRejectedRequests(app: FastifyInstance, meter: Meter): Counter {
  const procedures = new Set(API_PROCEDURES.map((procedure) => `/${procedure}`));
  const rejected = meter.createCounter("rpc.server.rejected_requests", {
    description: "API requests refused before reaching a handler (too large, undecodable, unsupported content type, unknown route)",
  });
  // Not async: it runs on every response and has nothing to do for most.
  app.addHook("onResponse", (request, reply, done) => {
    const marker = markers.get(request.raw);
    if (!marker || marker.reached) return done();
    const path = request.url.split("?")[0]!;
    rejected.add(1, {
      "rpc.method": procedures.has(path) ? path.slice(1) : "unknown",
      "rpc.system.name": rpcSystemOf(String(request.headers["content-type"] ?? "")),
      "http.response.status_code": reply.statusCode,
    });
    done();
  });
  return rejected;
}
