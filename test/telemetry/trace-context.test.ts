/**
 * Trace context with nothing to export (the service's default): a request that is not sampled gets
 * no span object, yet its log line and events still carry a well-formed `traceparent` (a new trace,
 * or the caller's passed on), and a sampled caller's trace is still recorded and continued.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SpanKind, trace } from "@opentelemetry/api";
import { createLogger } from "../../src/telemetry/logger.js";
import { TELEMETRY_SCOPE } from "../../src/telemetry/scope.js";
import { startTelemetry, type RunningTelemetry } from "../../src/telemetry/telemetry.js";
import { spanContextOf, startSpanUnder, traceparentOf, unrecordedTraceparent, withSpan } from "../../src/telemetry/trace-context.js";

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/;
const UNSAMPLED_PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
const SAMPLED_PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const options = { kind: SpanKind.SERVER, attributes: { "rpc.method": "Test" } };

let telemetry: RunningTelemetry;
before(async () => {
  telemetry = await startTelemetry({ host: "127.0.0.1", port: 0, logger: createLogger("silent"), env: {} });
});
after(() => telemetry.stop());

describe("trace context without an exporter", () => {
  const tracer = () => trace.getTracer(TELEMETRY_SCOPE);

  it("a request without a traceparent gets no recorded span and a new, well-formed, unsampled trace", () => {
    const span = startSpanUnder(tracer(), "Test", options, null);
    assert.equal(span.isRecording(), false);
    const first = traceparentOf(span, null);
    const second = traceparentOf(startSpanUnder(tracer(), "Test", options, undefined), undefined);
    assert.match(first, TRACEPARENT);
    assert.ok(first.endsWith("-00"), first);
    assert.ok(spanContextOf(first), "parses as a span context");
    assert.notEqual(first.split("-")[1], second.split("-")[1], "each request starts its own trace");
  });

  it("an unsampled caller's traceparent is passed on unchanged; a malformed one starts a new trace", () => {
    assert.equal(traceparentOf(startSpanUnder(tracer(), "Test", options, UNSAMPLED_PARENT), UNSAMPLED_PARENT), UNSAMPLED_PARENT);
    const fresh = traceparentOf(startSpanUnder(tracer(), "Test", options, "00-zz-yy-01"), "00-zz-yy-01");
    assert.match(fresh, TRACEPARENT);
  });

  it("a sampled caller's trace is recorded and continued with a span of its own", async () => {
    const span = startSpanUnder(tracer(), "Test", options, SAMPLED_PARENT);
    assert.equal(span.isRecording(), true);
    const continued = traceparentOf(span, SAMPLED_PARENT);
    span.end();
    const [, traceId, spanId, flags] = continued.split("-");
    assert.equal(traceId, SAMPLED_PARENT.split("-")[1]);
    assert.notEqual(spanId, SAMPLED_PARENT.split("-")[2]);
    assert.equal(flags, "01");
    // withSpan (the batcher's database call) follows the same rule.
    assert.equal(await withSpan("db", SAMPLED_PARENT, options, async (inner) => inner.isRecording()), true);
    assert.equal(await withSpan("db", UNSAMPLED_PARENT, { ...options, links: [SAMPLED_PARENT] }, async (inner) => inner.isRecording()), false);
  });

  it("the relay's shortcut carries what an unrecorded span would, and steps aside for a sampled parent", () => {
    for (const parent of [UNSAMPLED_PARENT, null, "00-zz-yy-01"]) {
      const viaSpan = traceparentOf(startSpanUnder(tracer(), "Test", options, parent), parent);
      const shortcut = unrecordedTraceparent(parent);
      assert.match(shortcut!, TRACEPARENT);
      // The same parent passed on; or, like the span's, a new unsampled trace.
      if (viaSpan === parent) assert.equal(shortcut, parent);
      else assert.ok(shortcut !== parent && shortcut!.endsWith("-00") && viaSpan.endsWith("-00"), `${shortcut} for ${parent}`);
    }
    assert.equal(unrecordedTraceparent(SAMPLED_PARENT), undefined, "a sampled parent gets its span");
  });
});
