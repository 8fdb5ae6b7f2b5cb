/**
 * Everything between the network and the API handlers, composed from the configuration:
 * metrics, request logging, authentication, rate limits, health (gRPC and HTTP probes),
 * reflection, CORS and the browser console. service.ts plugs it into the server; its parts live in src/auth,
 * src/limits, src/health, src/reflection and src/telemetry.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { file_payment_v1_common } from "../../gen/payment/v1/common_pb.js";
import { ServerReflection as ReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { errorInterceptor } from "../api/error-mapping.js";
import { API_SERVICES } from "../api/procedures.js";
import type { Access } from "../api/access.js";
import { AccountTokens, ensureDevSigningKey, parseSigningKeys, type SigningKey } from "../auth/account-tokens.js";
import { loadApiKeys, type ApiKeyGrant } from "../auth/api-keys.js";
import { authInterceptor } from "../auth/auth-interceptor.js";
import { DEV_KEY_FILE, ensureDevKey } from "../auth/dev-key.js";
import { KeyAdmin } from "../auth/key-admin.js";
import { KeyStore } from "../auth/key-store.js";
import { TokenBoundary } from "../auth/token-boundary.js";
import { ConfigError, type Config } from "../config/config.js";
import type { Database, DatabaseHandle } from "../db/client.js";
import { watchDatabase, type DatabaseWatch, type Ping } from "../health/database-probe.js";
import { HealthMonitor } from "../health/health-monitor.js";
import { healthServiceHandlers } from "../health/health-service.js";
import { registerHttpProbes } from "../health/http-probes.js";
import { rateLimitInterceptor } from "../limits/rate-limit-interceptor.js";
import { RateLimits } from "../limits/rate-limits.js";
import { connectRedis } from "../limits/redis-connection.js";
import { ReflectionIndex, reflectionHandlers } from "../reflection/reflection-service.js";
import type { Logger } from "../telemetry/logger.js";
import { startTelemetry, type RunningTelemetry } from "../telemetry/telemetry.js";
import { registerConsole } from "../console/console-routes.js";
import { registerCors } from "./cors.js";
import { countRejectedRequests } from "./rejected-requests.js";
import { rpcObserver } from "./rpc-observer.js";

/** Redis keys of rate-limit counters start with this. */
const RATE_LIMIT_KEY_PREFIX = "payment-ledger:rl";

/** What tests (or an embedding program) may add to the edge. */
export interface EdgeOptions {
  /** Extra span processors, e.g. an in-memory exporter in tests. */
  spanProcessors?: SpanProcessor[];
}

export interface Edge {
  readonly health: HealthMonitor;
  /** Metrics (Prometheus endpoint) and traces. */
  readonly metrics: RunningTelemetry;
  /** Outermost first. */
  readonly interceptors: Interceptor[];
  /** The API's routes plus health and reflection. */
  routes(api: (router: ConnectRouter) => void): (router: ConnectRouter) => void;
  configure(app: FastifyInstance): void;
  /**
   * Starts following the database's health; the database is assumed up (migrations just ran).
   * `ping` is a check on a connection of its own (see database-probe.ts).
   */
  watchDatabase(db: Database, ping?: Ping): void;
  /** Key management and token minting for the API's handlers, on this database. */
  access(db: Database): Access;
  /**
   * Loads the stored API keys and follows their changes (call after the migrations, before the
   * API is let through); the account-token checks read this database from then on.
   */
  startKeys(database: DatabaseHandle): Promise<void>;
  /** Stops following key changes: before the database closes. */
  stopKeys(): Promise<void>;
  stop(): Promise<void>;
}

function apiKeyGrants(config: Config, logger: Logger): Map<string, ApiKeyGrant> | undefined {
  if (config.AUTH_DISABLED) {
    logger.warn("AUTH_DISABLED=true: the API is open to anyone who can reach the port");
    return undefined;
  }
  const grants = loadApiKeys({ keys: config.API_KEYS, file: config.API_KEYS_FILE });
  if (grants.size > 0) {
    const devKeyFile = join(config.PGLITE_DATA_DIR, DEV_KEY_FILE);
    // Someone who used the development key before would otherwise just see UNAUTHENTICATED.
    if (!config.DATABASE_URL && existsSync(devKeyFile)) {
      logger.warn({ keyFile: devKeyFile }, `the development API key in ${devKeyFile} no longer works: API_KEYS or API_KEYS_FILE is set`);
    }
    return grants;
  }
  // Development keys are for the embedded default only: a real database gets real keys.
  if (config.DATABASE_URL) {
    throw new ConfigError(["API_KEYS or API_KEYS_FILE: required with DATABASE_URL (or AUTH_DISABLED=true on a closed network)"]);
  }
  return ensureDevKey(config.PGLITE_DATA_DIR, logger);
}

/**
 * TOKEN_SIGNING_KEYS; on the embedded default without them, a development key beside the dev API
 * key; with a real database and none, no keys (MintAccountToken answers
 * TOKEN_SIGNING_NOT_CONFIGURED, every token is refused).
 */
function signingKeys(config: Config, logger: Logger): SigningKey[] {
  if (config.TOKEN_SIGNING_KEYS) return parseSigningKeys(config.TOKEN_SIGNING_KEYS);
  // Without authentication no token is checked nor minted (MintAccountToken needs a key).
  if (config.AUTH_DISABLED) return [];
  if (!config.DATABASE_URL) return ensureDevSigningKey(config.PGLITE_DATA_DIR, logger);
  logger.warn("TOKEN_SIGNING_KEYS is not set: MintAccountToken is refused and no account token is accepted");
  return [];
}

/** Throws ConfigError when the API keys or token signing keys are missing or malformed. */
export async function createEdge(config: Config, logger: Logger, options: EdgeOptions = {}): Promise<Edge> {
  const grants = apiKeyGrants(config, logger);
  const keyStore = new KeyStore(grants ?? new Map(), logger);
  const tokens = new AccountTokens(signingKeys(config, logger));
  const boundary = new TokenBoundary();
  const metrics = await startTelemetry({
    host: config.METRICS_HOST,
    port: config.METRICS_PORT,
    logger,
    spanProcessors: options.spanProcessors,
  });
  const { meter, tracer } = metrics;

  let redis: Redis | undefined;
  let databaseWatch: DatabaseWatch | undefined;
  const interceptors = [rpcObserver(meter, tracer, logger), errorInterceptor(logger, () => databaseWatch?.suspect())];
  if (grants) interceptors.push(authInterceptor({ keys: keyStore, tokens, boundary }));
  if (config.RATE_LIMIT_POINTS > 0 || config.RATE_LIMIT_METHODS || config.RATE_LIMIT_TENANT_POINTS > 0 || config.RATE_LIMIT_TENANTS) {
    redis = config.REDIS_URL ? connectRedis(config.REDIS_URL, logger) : undefined;
    if (!redis) logger.info("REDIS_URL is not set: rate limits are kept in memory, per instance");
    const limits = new RateLimits({
      points: config.RATE_LIMIT_POINTS,
      windowSeconds: config.RATE_LIMIT_WINDOW_SECONDS,
      methods: config.RATE_LIMIT_METHODS,
      tenantPoints: config.RATE_LIMIT_TENANT_POINTS,
      tenants: config.RATE_LIMIT_TENANTS,
      redis,
      keyPrefix: RATE_LIMIT_KEY_PREFIX,
      logger,
      fallbacks: meter.createCounter("ratelimit.fallbacks", {
        description: "Rate-limit decisions made in memory because Redis was unavailable or slow",
      }),
    });
    const rejections = meter.createCounter("ratelimit.rejections", { description: "Requests refused by the rate limiter" });
    interceptors.push(rateLimitInterceptor(limits, rejections));
  }

  const health = new HealthMonitor(Object.fromEntries(API_SERVICES.map((service) => [service.typeName, ["database"]])));
  // ErrorDetail's file too: no service imports it, and error details name its type.
  const reflection = new ReflectionIndex([...API_SERVICES, Health, ReflectionV1, ReflectionV1alpha], [file_payment_v1_common]);

  return {
    health,
    metrics,
    interceptors,
    routes: (api) => (router) => {
      api(router);
      router.service(Health, healthServiceHandlers(health));
      router.service(ReflectionV1, reflectionHandlers(reflection));
      router.service(ReflectionV1alpha, reflectionHandlers(reflection));
    },
    configure(app) {
      registerCors(app, config.CORS_ORIGINS);
      countRejectedRequests(app, meter);
      registerHttpProbes(app, health, API_SERVICES.map((service) => service.typeName));
      registerConsole(app, logger);
    },
    watchDatabase(db, ping) {
      health.report("database", true);
      databaseWatch = watchDatabase(db, health, logger, undefined, ping);
    },
    access: (db) => ({ keys: new KeyAdmin(db, keyStore.configuredGrants), tokens }),
    async startKeys(database) {
      tokens.attach(database.db);
      boundary.attach(database.db);
      // With authentication off nothing reads the keys: no LISTEN, no reloads.
      if (grants) await keyStore.start(database);
    },
    stopKeys: () => keyStore.stop(),
    async stop() {
      await keyStore.stop();
      databaseWatch?.stop();
      redis?.disconnect();
      await metrics.stop();
    },
  };
}
