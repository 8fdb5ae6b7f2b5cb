/** `npm run db:migrate`: applies the migrations to the configured database and exits. */
import { loadConfigOrExit } from "../config/config.js";
import { createLogger } from "../telemetry/logger.js";
import { openDatabase } from "./client.js";
import { runMigrations } from "./migrate.js";
import { exitIfDataDirInUse } from "./pglite-lock.js";

const config = loadConfigOrExit();
const logger = createLogger(config.LOG_LEVEL);
const handle = await openDatabase({
  url: config.DATABASE_URL,
  poolSize: 2,
  pgliteDataDir: config.PGLITE_DATA_DIR,
}).catch(exitIfDataDirInUse);
try {
  await runMigrations(handle);
  logger.info({ backend: handle.backend, location: handle.location }, "migrations applied");
} finally {
  await handle.close();
}
