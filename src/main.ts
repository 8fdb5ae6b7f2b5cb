/** Entry point: `npm start`. Validates configuration, starts the service, stops it on signals. */
import { exitOnConfigError, loadConfigOrExit } from "./config/config.js";
import { DATA_DIR_IN_USE_EXIT_STATUS, DataDirInUseError } from "./db/pglite-lock.js";
import { DatabaseStartupError } from "./server/database-startup.js";
import { startService } from "./server/service.js";
import { handleShutdownSignals } from "./server/shutdown-signals.js";
import { createLogger } from "./telemetry/logger.js";

const config = loadConfigOrExit();

const logger = createLogger(config.LOG_LEVEL);
// API key entries are read at start-up: their problems are configuration errors too.
const service = await startService(config, logger).catch((error: unknown) => {
  if (error instanceof DataDirInUseError) {
    logger.fatal(error.message);
    console.error(`cannot start: ${error.message}`);
    process.exit(DATA_DIR_IN_USE_EXIT_STATUS);
  }
  if (error instanceof DatabaseStartupError) {
    // Exit non-zero with the reason: a supervisor restarts us, an operator sees why.
    logger.fatal(error.message);
    console.error(`cannot start: ${error.message}`);
    process.exit(1);
  }
  return exitOnConfigError(error);
});

handleShutdownSignals({ logger, stop: () => service.stop() });
