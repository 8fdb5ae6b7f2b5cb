/**
 * `npm run relay`: runs only the outbox relay (no API), e.g. as a separate deployment. Applies
 * migrations first (safe alongside running services), stops gracefully on SIGTERM/SIGINT.
 */
import { loadConfigOrExit } from "../config/config.js";
import { openDatabase } from "../db/client.js";
import { runMigrations } from "../db/migrate.js";
import { createLogger } from "../telemetry/logger.js";
import { startRelay } from "./start-relay.js";

const config = loadConfigOrExit();
const logger = createLogger(config.LOG_LEVEL);
if (!config.KAFKA_BROKERS || !config.DATABASE_URL) {
  // Embedded PGlite belongs to the one process that opened it: a separate relay needs PostgreSQL.
  logger.error("relay: set KAFKA_BROKERS and DATABASE_URL (PostgreSQL) to run the relay on its own");
  process.exit(2);
}

const database = await openDatabase({ url: config.DATABASE_URL, poolSize: 3, pgliteDataDir: config.PGLITE_DATA_DIR });
await runMigrations(database);
const relay = (await startRelay(config, database, logger))!;

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    logger.info({ signal }, "relay: shutting down, flushing in-flight deliveries");
    relay
      .stop()
      .then(() => database.close())
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: error }, "relay: shutdown failed");
        process.exit(1);
      });
  });
}
