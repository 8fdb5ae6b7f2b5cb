/**
 * Composes the running service from its configuration: database (PostgreSQL or embedded PGlite)
 * with migrations, the ledger, the Connect API on one port, and background housekeeping. Used by
 * main.ts and by end-to-end tests, which start the real thing in-process.
 */
import { apiRoutes } from "../api/routes.js";
import type { Config } from "../config/config.js";
import { openDatabase, type DatabaseHandle } from "../db/client.js";
import { runMigrations } from "../db/migrate.js";
import { Ledger } from "../ledger/ledger.js";
import type { HealthReporter } from "../health/health-monitor.js";
import { startRelay } from "../relay/start-relay.js";
import type { Logger } from "../telemetry/logger.js";
import { createEdge, type Edge, type EdgeOptions } from "./edge.js";
import { startHoldExpiry, startHousekeeping } from "./housekeeping.js";
import { startServer, type RunningServer } from "./server.js";

export interface RunningService {
  readonly url: string;
  readonly port: number;
  readonly database: DatabaseHandle;
  readonly ledger: Ledger;
  readonly server: RunningServer;
  /** Where components (the outbox relay) report whether they can do their job. */
  readonly health: HealthReporter;
  /** Prometheus scrape URL. */
  readonly metricsUrl: string;
  /** Graceful stop: refuse new work, finish in-flight requests, close pools; bounded in time. */
  stop(): Promise<void>;
}

/** `options` adds to the edge (tests pass an in-memory span exporter). */
export async function startService(config: Config, logger: Logger, options: EdgeOptions = {}): Promise<RunningService> {
  const edge = await createEdge(config, logger, options);
  try {
    return await startWithEdge(config, logger, edge);
  } catch (error) {
    await edge.stop();
    throw error;
  }
}

async function startWithEdge(config: Config, logger: Logger, edge: Edge): Promise<RunningService> {
  const database = await openDatabase({
    url: config.DATABASE_URL,
    poolSize: config.DB_POOL_SIZE,
    pgliteDataDir: config.PGLITE_DATA_DIR,
  });
  logger.info(
    { backend: database.backend, location: database.location },
    database.backend === "pglite"
      ? "DATABASE_URL is not set: using embedded PGlite (development only)"
      : "using PostgreSQL",
  );
  await runMigrations(database);
  const ledger = new Ledger(database.db, {
    idempotencyTtlHours: config.IDEMPOTENCY_TTL_HOURS,
    holdExpiresInSeconds: config.HOLD_EXPIRES_IN_SECONDS,
  });

  const server = await startServer({
    host: config.HOST,
    port: config.PORT,
    readMaxBytes: config.READ_MAX_BYTES,
    maxTimeoutMs: config.MAX_TIMEOUT_MS,
    tls: config.TLS_CERT_FILE && config.TLS_KEY_FILE ? { certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE } : undefined,
    logger,
    routes: edge.routes(apiRoutes(ledger)),
    interceptors: edge.interceptors,
    configure: (app) => edge.configure(app),
  });
  edge.watchDatabase(database.db);
  logger.info({ url: server.url }, "listening (Connect, gRPC and gRPC-Web on one port)");
  const relay = await startRelay(config, database, logger, edge.health);

  const stopHousekeeping = startHousekeeping(database.db, { outboxRetentionHours: config.OUTBOX_RETENTION_HOURS }, logger);
  const stopHoldExpiry = startHoldExpiry(ledger, config.HOLD_SWEEP_INTERVAL_MS, logger);

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    stopHousekeeping();
    stopHoldExpiry();
    // Health turns NOT_SERVING first, so that load balancers stop sending before the port closes.
    edge.health.drain();
    await new Promise((resolve) => setTimeout(resolve, config.SHUTDOWN_DRAIN_DELAY_MS));
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, config.SHUTDOWN_TIMEOUT_MS).unref());
    await Promise.race([server.close(), deadline]);
    // After the API: the relay's batch in progress is delivered and recorded; rows it did not get
    // to stay in the outbox for the next start.
    await relay?.stop();
    await database.close();
    await edge.stop();
  };
  return {
    url: server.url,
    port: server.port,
    database,
    ledger,
    server,
    health: edge.health,
    metricsUrl: edge.metrics.url,
    stop: () => (stopping ??= stop()),
  };
}
