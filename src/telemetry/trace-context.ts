/**
 * The one place W3C trace context is read and written: parsing a `traceparent` into an
 * OpenTelemetry context and writing a span's context back as a `traceparent`. Requests carry it in
 * a header, the outbox keeps it per event, Kafka messages carry it in a header.
 */
import { randomBytes } from "node:crypto";
import {
  ROOT_CONTEXT,
  isSpanContextValid,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type SpanKind,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { TELEMETRY_SCOPE } from "./scope.js";

const tracer = trace.getTracer(TELEMETRY_SCOPE);
const propagator = new W3CTraceContextPropagator();
const carrierGetter = {
  get: (carrier: Record<string, string>, key: string) => carrier[key],
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
};

/** The context a `traceparent` header continues; the root context when it is absent or malformed. */
export function contextOf(traceparent: string | null | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, { traceparent }, carrierGetter);
}

/** The span context a `traceparent` names, if it is well formed. */
export function spanContextOf(traceparent: string | null | undefined): SpanContext | undefined {
  return trace.getSpanContext(contextOf(traceparent));
}

/** A `traceparent` that starts a new trace (not sampled): for work no span describes. */
export function newTraceparent(): string {
  const id = randomBytes(24).toString("hex");
  return `00-${id.slice(0, 32)}-${id.slice(32)}-00`;
}

/**
 * The `traceparent` header value that continues `span`'s trace with `span` as the parent. Without
 * a registered tracer provider (a relay or tool run without telemetry) spans have no ids: then the
 * trace of `parent` is passed on unchanged, or a new one is started, so a trace is always carried.
 * A span that is not recorded (not sampled) passes `parent` on too: its own id would name a span
 * that no backend ever receives, and injecting it costs the relay time on every message.
 */
export function traceparentOf(span: Span, parent?: string | null): string {
  if (!span.isRecording() && parent && spanContextOf(parent)) return parent;
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return parent && spanContextOf(parent) ? parent : newTraceparent();
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** The trace id of a `traceparent` this module wrote or accepted. */
export function traceIdOf(traceparent: string): string {
  return traceparent.split("-")[1]!;
}

/** What `withSpan` records: the span's kind, attributes, and the traces it serves besides its parent's. */
export interface SpanSpec {
  kind: SpanKind;
  attributes?: Attributes;
  /** `traceparent`s of other requests this span works for (a group commit serves several). */
  links?: (string | null | undefined)[];
}

/**
 * Runs `fn` with a span that continues `parent` (a `traceparent`; a new trace when there is none),
 * ends it when `fn` settles and marks it failed when `fn` throws. The parent is always explicit:
 * the service registers no context manager (telemetry.ts), so there is no "active" span.
 */
export async function withSpan<T>(name: string, parent: string | null | undefined, spec: SpanSpec, fn: (span: Span) => Promise<T>): Promise<T> {
  const links = (spec.links ?? []).flatMap((traceparent) => {
    const linked = spanContextOf(traceparent);
    return linked ? [{ context: linked }] : [];
  });
  const span = tracer.startSpan(name, { kind: spec.kind, attributes: spec.attributes, links }, contextOf(parent));
  try {
    return await fn(span);
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}
