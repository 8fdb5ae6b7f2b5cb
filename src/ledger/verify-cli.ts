/**
 * `npm run verify`: checks the configured database's ledger (see verify.ts) and prints what is
 * wrong, one violation per line. Exit status: 0 sound, 1 violations found, 2 bad configuration,
 * 75 when the embedded PGlite database is open in another process (it is single-process: stop the
 * service first, or call AdminService.VerifyLedger on the running service instead).
 */
import { loadConfigOrExit } from "../config/config.js";
import { openDatabase } from "../db/client.js";
import { exitIfDataDirInUse } from "../db/pglite-lock.js";
import { verifyLedger } from "./verify.js";

const config = loadConfigOrExit();
const handle = await openDatabase({ url: config.DATABASE_URL, poolSize: 2, pgliteDataDir: config.PGLITE_DATA_DIR }).catch(exitIfDataDirInUse);
try {
  const report = await verifyLedger(handle.db);
  for (const violation of report.violations) {
    console.log(`${violation.check}\t${violation.subject}\t${violation.detail}`);
  }
  console.log(report.ok ? `ledger verified: no violations (${handle.location})` : `ledger NOT sound: ${report.violations.length} violation(s)`);
  process.exitCode = report.ok ? 0 : 1;
} finally {
  await handle.close();
}
