/**
 * Composes the running service from its configuration: database (PostgreSQL or embedded PGlite)
 * with migrations, the ledger, the Connect API on one port, and background housekeeping. Used by
 * main.ts and by end-to-end tests, which start the real thing in-process.
 */
import { getHeapStatistics } from "node:v8";
import { apiRoutes } from "../api/routes.js";
import type { Config } from "../config/config.js";
import { openDatabase, type DatabaseHandle } from "../db/client.js";
import { ReadReplica } from "../db/read-replica.js";
import { recentWritesInterceptor } from "../api/recent-writes.js";
import { Ledger } from "../ledger/ledger.js";
import { ensureTenants } from "../ledger/tenants.js";
import { loadApiKeys } from "../auth/api-keys.js";
import { CHANGES_CHANNEL, ChangeFeed } from "../ledger/change-feed.js";
import { listenOn } from "../db/notifications.js";
import { SERVER, type HealthReporter } from "../health/health-monitor.js";
import { startRelay } from "../relay/start-relay.js";
import type { Logger } from "../telemetry/logger.js";
import { migrateWhenReachable, startupGate } from "./database-startup.js";
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
  // One LISTEN per instance feeds every watch stream (src/ledger/change-feed.ts); it starts once
  // the database is reachable and migrated, before the API is let through.
  const changeFeed = new ChangeFeed((onNotify, onReconnect) => listenOn(database, CHANGES_CHANNEL, onNotify, onReconnect));
  // The read side on a replica, by choice; reads fall back to the primary while it lags or is away.
  const reads = config.READ_DATABASE_URL && config.DATABASE_URL
    ? await ReadReplica.open({
        primary: database,
        primaryUrl: config.DATABASE_URL,
        replicaUrl: config.READ_DATABASE_URL,
        maxStalenessMs: config.READ_MAX_STALENESS_MS,
        poolSize: config.DB_POOL_SIZE,
        logger,
      })
    : undefined;
  const ledger = new Ledger(database.db, {
    idempotencyTtlHours: config.IDEMPOTENCY_TTL_HOURS,
    holdExpiresInSeconds: config.HOLD_EXPIRES_IN_SECONDS,
    changeFeed,
    reads,
  });
  // The port opens before the database is known to be there: probes answer (readiness 503) and
  // API calls get UNAVAILABLE until the migrations have run.
  let migrated = false;
  edge.health.report("database", false);
  const gated = new Set(edge.health.serviceNames().filter((name) => name !== SERVER));

  const server = await startServer({
    host: config.HOST,
    port: config.PORT,
    readMaxBytes: config.READ_MAX_BYTES,
    maxTimeoutMs: config.MAX_TIMEOUT_MS,
    connectionLimits: { sniffTimeoutMs: config.SNIFF_TIMEOUT_MS, http2IdleTimeoutMs: config.HTTP2_IDLE_TIMEOUT_MS },
    tls: config.TLS_CERT_FILE && config.TLS_KEY_FILE ? { certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE } : undefined,
    logger,
    routes: edge.routes(apiRoutes(ledger, edge.access(database.db))),
    interceptors: [...edge.interceptors, startupGate(() => migrated, gated), ...(reads ? [recentWritesInterceptor()] : [])],
    configure: (app) => edge.configure(app),
  });
  logger.info({ url: server.url }, "port open: probes answer, the API waits for the database");
  try {
    await migrateWhenReachable(database, config.DB_STARTUP_TIMEOUT_MS, logger);
    // Tenants named by configured keys exist before the first call (bootstrapping from configuration).
    if (!config.AUTH_DISABLED) {
      await ensureTenants(database.db, [...loadApiKeys({ keys: config.API_KEYS, file: config.API_KEYS_FILE }).values()].map((grant) => grant.tenantId));
    }
    await changeFeed.start();
    await edge.startKeys(database);
  } catch (error) {
    await server.close();
    await edge.stopKeys();
    await reads?.close();
    await database.close();
    throw error;
  }
  migrated = true;
  edge.watchDatabase(database.db, database.ping);
  // Tests and operators wait for this line: from here on the API serves.
  // The heap limit comes from node's flags (npm start: --max-old-space-size), logged so that an
  // operator sees whether the process runs with it; resident and peak memory so far (the embedded
  // default's start is its peak: README, "Memory of the embedded default").
  const heapLimitMb = Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
  const rssMb = Math.round(process.memoryUsage.rss() / 2 ** 20);
  const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  logger.info({ url: server.url, heapLimitMb, rssMb, peakRssMb }, "listening (Connect, gRPC and gRPC-Web on one port)");
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
    // Watch streams never finish by themselves: end them first (clean end of stream; clients resume
    // on another instance with the position they reached), so that close() only waits for unary
    // calls. stopWatches ends the streams at once, then UNLISTENs; close() does not wait for that
    // (awaiting it first made test/server/graceful-shutdown.test.ts see resets of in-flight
    // keep-alive requests; why was not traced), and both are bounded by the shutdown deadline.
    const watchesStopped = ledger.stopWatches();
    await Promise.race([Promise.all([watchesStopped, server.close()]), deadline]);
    // After the API: the relay's batch in progress is delivered and recorded; rows it did not get
    // to stay in the outbox for the next start.
    await relay?.stop();
    await edge.stopKeys();
    await reads?.close();
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
