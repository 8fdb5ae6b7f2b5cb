/** Starts the real service in-process on a free port against a fresh test database. */
import { loadConfig } from "../../src/config/config.js";
import type { EdgeOptions } from "../../src/server/edge.js";
import { startService, type RunningService } from "../../src/server/service.js";
import { capturingLogger } from "./logs.js";
import { createTestDatabase, type TestDatabase } from "./database.js";

export interface TestService {
  service: RunningService;
  database: TestDatabase;
  url: string;
  /** Every log line the service wrote, parsed. */
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

/**
 * Ledger tests run with the edge out of the way (no keys, no limits, metrics on a free port); the
 * edge's own tests override these (e.g. `{ AUTH_DISABLED: "false", API_KEYS: ... }`).
 */
export const EDGE_DEFAULTS = { AUTH_DISABLED: "true", RATE_LIMIT_POINTS: "0", METRICS_PORT: "0" };

/**
 * `env` overrides configuration variables (strings, as in the environment); a function of the fresh
 * database URL may build them. `options` adds to the edge (e.g. an in-memory span exporter).
 */
export async function startTestService(
  env: Record<string, string> | ((databaseUrl: string) => Record<string, string>) = {},
  options: EdgeOptions = {},
): Promise<TestService> {
  const database = await createTestDatabase();
  const overrides = typeof env === "function" ? env(database.url) : env;
  const config = loadConfig({ DATABASE_URL: database.url, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "info", ...EDGE_DEFAULTS, ...overrides });
  const { logger, lines: logs } = capturingLogger(config.LOG_LEVEL);
  const service = await startService(config, logger, options);
  return {
    service,
    database,
    url: service.url,
    logs,
    async stop() {
      await service.stop();
      await database.drop();
    },
  };
}
