/**
 * OTLP export from the service as a process: with the standard `OTEL_EXPORTER_OTLP_ENDPOINT` set,
 * traces and metrics are pushed (OTLP/HTTP) to the collector it names, with the service's resource;
 * Prometheus keeps answering beside it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { jsonClients } from "../support/clients.js";
import { freePort, spawnService } from "../support/process.js";
import { until } from "../support/until.js";

const received: { path: string; body: Buffer }[] = [];
const collector = createServer(async (request: IncomingMessage, response) => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  received.push({ path: request.url ?? "", body: Buffer.concat(chunks) });
  response.writeHead(200, { "content-type": "application/json" }).end("{}");
});
const dataDir = mkdtempSync(join(tmpdir(), "ledger-otlp-"));
let collectorUrl: string;

before(async () => {
  collector.listen(0, "127.0.0.1");
  await once(collector, "listening");
  collectorUrl = `http://127.0.0.1:${(collector.address() as { port: number }).port}`;
});
after(() => {
  collector.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it("pushes traces and metrics to the OTLP endpoint, named payment-ledger", async () => {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const service = spawnService({
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    PGLITE_DATA_DIR: dataDir,
    AUTH_DISABLED: "true",
    OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_METRIC_EXPORT_INTERVAL: "500",
    OTEL_BSP_SCHEDULE_DELAY: "100",
  });
  let stopped = false;
  try {
    // PGlite's first start takes seconds alone, and over a minute on a loaded shared machine.
    await service.waitFor(/"msg":"listening/, 180_000);
    const { accounts } = jsonClients(`http://127.0.0.1:${port}`);
    await accounts.createAccount({ currency: "USD", displayName: "otlp" });

    await until("a trace export with the CreateAccount span", () =>
      received.some((r) => r.path === "/v1/traces" && r.body.includes("payment.v1.AccountService/CreateAccount")),
    );
    await until("a metric export with the RPC duration", () =>
      received.some((r) => r.path === "/v1/metrics" && r.body.includes("rpc.server.call.duration")),
    );
    const traces = received.find((r) => r.path === "/v1/traces")!.body.toString();
    assert.match(traces, /"service\.name","value":\{"stringValue":"payment-ledger"\}/);
    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status, 200, "Prometheus still answers");
    assert.equal(await service.stop("SIGTERM"), 0, "a clean stop flushes the exporters");
    stopped = true;
  } finally {
    // After a failure above, stop without masking it.
    if (!stopped) await service.stop("SIGKILL");
  }
});
