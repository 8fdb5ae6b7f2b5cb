/**
 * OpenTelemetry metrics, exported for Prometheus on a port of their own (GET /metrics), so that
 * the API port can be exposed without exposing operational data. The meter provider is registered
 * globally: any module's `metrics.getMeter("payment-ledger")` (the relay's, for instance) lands in
 * the same export. Instruments must be created after `startMetrics`, since the OpenTelemetry
 * metrics API hands out no-op meters before a provider is registered.
 */
import http from "node:http";
import { metrics, type Meter } from "@opentelemetry/api";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import type { Logger } from "./logger.js";

/** The meter (instrumentation scope) name every part of the service uses. */
export const METER_NAME = "payment-ledger";

export interface RunningMetrics {
  /** The service's meter, also reachable as `metrics.getMeter(METER_NAME)`. */
  readonly meter: Meter;
  /** Where Prometheus scrapes, e.g. http://127.0.0.1:9464/metrics. */
  readonly url: string;
  stop(): Promise<void>;
}

export async function startMetrics(options: { host: string; port: number; logger: Logger }): Promise<RunningMetrics> {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [exporter] });
  // A second service in the same process (tests) keeps its own provider; only the first is global.
  const global = metrics.setGlobalMeterProvider(provider);

  const server = http.createServer((request, response) => {
    if (request.method === "GET" && request.url?.split("?")[0] === "/metrics") {
      exporter.getMetricsRequestHandler(request, response);
      return;
    }
    response.writeHead(404, { "content-type": "text/plain" }).end("not found: metrics are at GET /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}/metrics`;
  options.logger.info({ url }, "Prometheus metrics listening");

  return {
    meter: provider.getMeter(METER_NAME),
    url,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (global) metrics.disable();
      await provider.shutdown();
    },
  };
}
