/**
 * The embedded development default: with no database URL and no keys configured, the service
 * mints one all-scopes key (an operator key of the default tenant) at first start and keeps it beside the PGlite data, so that restarts
 * keep working with the same key and the README's curl examples can read it from the file.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_TENANT } from "../db/schema.js";
import type { Logger } from "../telemetry/logger.js";
import { SCOPES, generateApiKey, hashApiKey, type ApiKeyGrant } from "./api-keys.js";

/** Client id of the development key. */
export const DEV_CLIENT_ID = "dev";

/** File name of the development key inside the PGlite data directory. */
export const DEV_KEY_FILE = "dev-api-key";

/** Returns the grant for the development key, creating the key file when it does not exist yet. */
export function ensureDevKey(dataDir: string, logger: Logger): Map<string, ApiKeyGrant> {
  const file = join(dataDir, DEV_KEY_FILE);
  const created = !existsSync(file);
  if (created) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${generateApiKey()}\n`, { mode: 0o600 });
    // writeFileSync's mode is masked by the umask; the key must not be group or world readable.
    chmodSync(file, 0o600);
  }
  const key = readFileSync(file, "utf8").trim();
  // The key itself never goes to the log: only where it is and how to use it.
  logger.warn(
    { keyFile: file, clientId: DEV_CLIENT_ID },
    `${created ? "generated" : "using"} a development API key (all scopes) in ${file}; ` +
      `call the API with: -H "Authorization: Bearer $(cat ${file})". Configure API_KEYS or API_KEYS_FILE for anything else`,
  );
  return new Map([[hashApiKey(key), { clientId: DEV_CLIENT_ID, tenantId: DEFAULT_TENANT, scopes: new Set(SCOPES) }]]);
}
