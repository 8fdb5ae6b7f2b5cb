/**
 * OpenTelemetry for the service, set up with the NodeSDK: one resource (`service.name`
 * "payment-ledger" and the package version) for metrics and traces; metrics exported for
 * Prometheus on a port of their own (GET /metrics), so that the API port can be exposed without
 * exposing operational data; and OTLP export of metrics and traces when the standard variables
 * name a collector (`OTEL_EXPORTER_OTLP_ENDPOINT`, or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
 * `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` for one signal; the exporters read the rest of `OTEL_*`).
 *
 * Providers are registered globally: every module takes its meter and tracer from
 * `@opentelemetry/api` under `TELEMETRY_SCOPE`. A tracer provider is always registered, exporter or
 * not, so that every request gets real trace ids for its log line and its events. With nothing to
 * export them to, spans are recorded only when the caller's trace is sampled (so the sampled flag
 * travels on into the events unchanged); the others keep their ids and skip the recording
 * (attributes, timings, the processor calls) that nobody would read. A second service
 * started in the same process (tests) shares the first one's providers; its own Prometheus port
 * then stays empty.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import { ROOT_CONTEXT, context, metrics, propagation, trace, type Context, type ContextManager, type Meter, type Tracer } from "@opentelemetry/api";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { PeriodicExportingMetricReader, type MetricReader } from "@opentelemetry/sdk-metrics";
import { NodeSDK } from "@opentelemetry/sdk-node";
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  NoopSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import type { Logger } from "./logger.js";
import { TELEMETRY_SCOPE } from "./scope.js";
import { setSpansOnlyWhenSampled } from "./trace-context.js";

export { TELEMETRY_SCOPE };

/** The `service.version` resource attribute: the package version. */
export const SERVICE_VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/**
 * The context manager: none that tracks an "active" context. Every span here names its parent
 * explicitly (the request's traceparent, the batch's first item's, the outbox row's), so the
 * default AsyncLocalStorage manager, whose promise hooks run on every promise of every request,
 * bought nothing. Without it, single Connect requests went from 359-389/s to 405-453/s in
 * alternating runs against the same database (2 shared cores). Code that needs a span's context
 * passes it (src/telemetry/trace-context.ts).
 */
class ExplicitContextOnly implements ContextManager {
  active(): Context {
    return ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(_context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return fn.call(thisArg, ...args);
  }
  bind<T>(_context: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

/** Whether a service in this process has registered the global providers. */
let globalsTaken = false;

export interface TelemetryOptions {
  host: string;
  port: number;
  logger: Logger;
  /** Extra span processors (tests pass one with an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
  /** The environment to read `OTEL_*` from. */
  env?: NodeJS.ProcessEnv;
}

export interface RunningTelemetry {
  /** The service's meter, also reachable as `metrics.getMeter(TELEMETRY_SCOPE)`. */
  readonly meter: Meter;
  /** The service's tracer, also reachable as `trace.getTracer(TELEMETRY_SCOPE)`. */
  readonly tracer: Tracer;
  /** Where Prometheus scrapes, e.g. http://127.0.0.1:9464/metrics. */
  readonly url: string;
  /** Which signals go to an OTLP collector. */
  readonly otlp: { traces: boolean; metrics: boolean };
  stop(): Promise<void>;
}

/** Starts the NodeSDK and the Prometheus endpoint; instruments must be created after this. */
export async function startTelemetry(options: TelemetryOptions): Promise<RunningTelemetry> {
  const env = options.env ?? process.env;
  const otlp = {
    traces: Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
    metrics: Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT),
  };
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const metricReaders: MetricReader[] = [prometheus];
  if (otlp.metrics) {
    const interval = Number(env.OTEL_METRIC_EXPORT_INTERVAL) || 60_000;
    metricReaders.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter(), exportIntervalMillis: interval }));
  }
  const spanProcessors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  if (otlp.traces) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  // Spans must be real (valid ids) even when nothing exports them: see the header.
  let sampler: Sampler | undefined;
  if (spanProcessors.length === 0) {
    spanProcessors.push(new NoopSpanProcessor());
    if (!env.OTEL_TRACES_SAMPLER) sampler = new ParentBasedSampler({ root: new AlwaysOffSampler() });
  }

  // Only the first service in a process registers globally; a later one must not unregister it.
  const ownsGlobals = !globalsTaken;
  globalsTaken = true;
  const sdk = new NodeSDK({
    serviceName: TELEMETRY_SCOPE,
    resource: resourceFromAttributes({ "service.name": TELEMETRY_SCOPE, "service.version": SERVICE_VERSION }),
    autoDetectResources: false,
    metricReaders,
    spanProcessors,
    ...(sampler ? { sampler } : {}),
    instrumentations: [],
    contextManager: new ExplicitContextOnly(),
  });
  if (ownsGlobals) {
    sdk.start();
    // Unsampled requests then get no span objects at all (trace-context.ts, startSpanUnder).
    setSpansOnlyWhenSampled(sampler !== undefined);
  }
  const release = async () => {
    if (!ownsGlobals) return;
    setSpansOnlyWhenSampled(false);
    await sdk.shutdown();
    globalsTaken = false;
    // So that a later service in the same process (tests) can register its own.
    metrics.disable();
    trace.disable();
    propagation.disable();
    context.disable();
  };

  const server = http.createServer((request, response) => {
    if (request.method === "GET" && request.url?.split("?")[0] === "/metrics") {
      prometheus.getMetricsRequestHandler(request, response);
      return;
    }
    response.writeHead(404, { "content-type": "text/plain" }).end("not found: metrics are at GET /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  }).catch(async (error: unknown) => {
    await release();
    throw error;
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}/metrics`;
  options.logger.info({ url, otlp }, "telemetry: Prometheus metrics listening");

  return {
    meter: metrics.getMeter(TELEMETRY_SCOPE, SERVICE_VERSION),
    tracer: trace.getTracer(TELEMETRY_SCOPE, SERVICE_VERSION),
    url,
    otlp,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await release();
    },
  };
}
