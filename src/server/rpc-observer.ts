/**
 * The outermost interceptor: one server span, one duration sample and one log line per RPC. It
 * sees calls after the error mapping, so it records the code the client received, and after
 * authentication, so it knows the client. The span continues the caller's W3C `traceparent` (or
 * starts a trace here) and is the active context while the handler runs, so the ledger's database
 * span is its child; its `traceparent` travels with the request into the events it writes.
 *
 * Names and attributes follow the OpenTelemetry RPC semantic conventions: span `service/method`
 * of kind SERVER with `rpc.system`, `rpc.service`, `rpc.method` and the status code; histogram
 * `rpc.server.call.duration` (seconds) by `rpc.system.name`, `rpc.method` and `rpc.status_code`.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { SpanKind, SpanStatusCode, type Meter, type Tracer } from "@opentelemetry/api";
import { clientIdKey, requestIdKey, traceparentKey } from "../api/request-context.js";
import type { Logger } from "../telemetry/logger.js";
import { startSpanUnder, traceIdOf, traceparentOf } from "../telemetry/trace-context.js";
import { procedureOf } from "../api/procedures.js";
import { reachedKey } from "./rejected-requests.js";
import { rpcSystemOf } from "./rpc-system.js";

/** "RESOURCE_EXHAUSTED" for Code.ResourceExhausted, as gRPC spells status codes. */
export function statusName(code: Code | undefined): string {
  return code === undefined ? "OK" : Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

export function rpcObserver(meter: Meter, tracer: Tracer, logger: Logger): Interceptor {
  const duration = meter.createHistogram("rpc.server.call.duration", {
    unit: "s",
    description: "Duration of RPCs handled by this server, until the response (or first message) is sent",
    advice: { explicitBucketBoundaries: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
  });

  return (next) => async (request) => {
    const started = performance.now();
    const marker = request.contextValues.get(reachedKey);
    if (marker) marker.reached = true;
    const contentType = request.header.get("content-type") ?? "";
    const system = rpcSystemOf(contentType);
    const procedure = procedureOf(request.service, request.method);
    const parent = request.header.get("traceparent");
    const span = startSpanUnder(
      tracer,
      procedure,
      {
        kind: SpanKind.SERVER,
        attributes: { "rpc.system": system, "rpc.service": request.service.typeName, "rpc.method": request.method.name },
      },
      parent,
    );
    const traceparent = traceparentOf(span, parent);
    const traceId = traceIdOf(traceparent);
    request.contextValues.set(traceparentKey, traceparent);
    let code: Code | undefined;
    try {
      // The handlers get the span through its traceparent (traceparentKey), not an active context.
      return await next(request);
    } catch (error) {
      const connectError = ConnectError.from(error);
      code = connectError.code;
      span.setStatus({ code: SpanStatusCode.ERROR, message: connectError.rawMessage });
      throw error;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const status = statusName(code);
      span.setAttribute("rpc.grpc.status_code", code ?? 0);
      span.setAttribute("rpc.response.status_code", status);
      span.end();
      duration.record(seconds, { "rpc.system.name": system, "rpc.method": procedure, "rpc.status_code": status });
      // The line's fields are built only when it is written (the benchmarks run at LOG_LEVEL=warn).
      if (logger.isLevelEnabled("info")) {
        logger.info(
          {
            requestId: request.contextValues.get(requestIdKey),
            traceId,
            clientId: request.contextValues.get(clientIdKey),
            procedure,
            protocol: contentType.split(";")[0],
            status,
            durationMs: Math.round(seconds * 100_000) / 100,
          },
          "rpc",
        );
      }
    }
  };
}
