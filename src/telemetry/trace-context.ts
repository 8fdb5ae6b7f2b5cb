/**
 * The one place W3C trace context is read and written: parsing a `traceparent` into an
 * OpenTelemetry context and writing a span's context back as a `traceparent`. Requests carry it in
 * a header, the outbox keeps it per event, Kafka messages carry it in a header.
 */
import { randomFillSync } from "node:crypto";
import {
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  TraceFlags,
  isSpanContextValid,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanOptions,
  type Tracer,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { TELEMETRY_SCOPE } from "./scope.js";

const tracer = trace.getTracer(TELEMETRY_SCOPE);
const propagator = new W3CTraceContextPropagator();
const carrierGetter = {
  get: (carrier: Record<string, string>, key: string) => carrier[key],
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
};

/**
 * True while the registered tracer records only spans whose parent is sampled (telemetry.ts, with
 * nothing to export to). Then a span under an unsampled parent or none would be a non-recording
 * span with fresh ids that nobody reads: `startSpanUnder` hands out one shared non-recording span
 * instead, and `traceparentOf` passes the parent on (or starts a trace), as it does for any span
 * that is not recorded. Per request that skips the sampler, the id generation and the span object.
 */
let spansOnlyWhenSampled = false;
const UNRECORDED = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** telemetry.ts says whether its tracer records only spans under sampled parents. */
export function setSpansOnlyWhenSampled(value: boolean): void {
  spansOnlyWhenSampled = value;
}

/**
 * `tracer.startSpan(name, options)` under the span `parent` names (a `traceparent`; a new trace when
 * there is none), or the shared non-recording span when it would not be recorded (see above).
 */
export function startSpanUnder(tracer: Tracer, name: string, options: SpanOptions, parent: string | null | undefined): Span {
  const context = contextOf(parent);
  return unrecorded(trace.getSpanContext(context)) ? UNRECORDED : tracer.startSpan(name, options, context);
}

/**
 * The `traceparent` a span under `parent` would carry on when it would not be recorded (the
 * parent passed on, or a new trace when it is missing or malformed), so the caller can skip the
 * span altogether; undefined when the span would be recorded. One parse of `parent`: the relay
 * asks this per event.
 */
export function unrecordedTraceparent(parent: string | null | undefined): string | undefined {
  const context = spanContextOf(parent);
  if (!unrecorded(context)) return undefined;
  return context ? parent! : newTraceparent();
}

/** Whether a span under `parent` (its span context; none: a new trace) would not be recorded. */
function unrecorded(parent: SpanContext | undefined): boolean {
  return spansOnlyWhenSampled && !((parent?.traceFlags ?? 0) & TraceFlags.SAMPLED);
}

/** The context a `traceparent` header continues; the root context when it is absent or malformed. */
export function contextOf(traceparent: string | null | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, { traceparent }, carrierGetter);
}

/** The span context a `traceparent` names, if it is well formed. */
export function spanContextOf(traceparent: string | null | undefined): SpanContext | undefined {
  return trace.getSpanContext(contextOf(traceparent));
}

/** Random bytes for new ids, fetched 4 KiB at a time: a `randomBytes` call per request cost more than the rest of starting a trace. */
const idPool = Buffer.alloc(24 * 170);
let idOffset = idPool.length;

/** A `traceparent` that starts a new trace (not sampled): for work no span describes. */
export function newTraceparent(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const traceId = idPool.toString("hex", idOffset, idOffset + 16);
  const spanId = idPool.toString("hex", idOffset + 16, idOffset + 24);
  idOffset += 24;
  return `00-${traceId}-${spanId}-00`;
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
  const context = contextOf(parent);
  const links = () =>
    (spec.links ?? []).flatMap((traceparent) => {
      const linked = spanContextOf(traceparent);
      return linked ? [{ context: linked }] : [];
    });
  const span = unrecorded(trace.getSpanContext(context)) ? UNRECORDED : tracer.startSpan(name, { kind: spec.kind, attributes: spec.attributes, links: links() }, context);
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
