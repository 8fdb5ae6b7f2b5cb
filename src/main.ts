/** Entry point: `npm start`. Validates configuration, starts the service, stops it on signals. */
import { exitOnConfigError, loadConfigOrExit } from "./config/config.js";
import { startService } from "./server/service.js";
import { createLogger } from "./telemetry/logger.js";

const config = loadConfigOrExit();

const logger = createLogger(config.LOG_LEVEL);
// API key entries are read at start-up: their problems are configuration errors too.
const service = await startService(config, logger).catch(exitOnConfigError);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    logger.info({ signal }, "shutting down: draining in-flight requests");
    service
      .stop()
      .then(() => {
        logger.info("stopped");
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      });
  });
}
