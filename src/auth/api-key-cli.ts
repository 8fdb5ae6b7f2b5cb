/**
 * `npm run api-key -- [<tenant-id>/]<client-id> [scope+scope]`: mints a key for a configured
 * client (of the default tenant unless one is named), prints it once for the client and the entry
 * (with only its hash) for API_KEYS or API_KEYS_FILE. Keys made at run time live in the database
 * instead: AdminService.CreateApiKey (README, "Tenants, keys and tokens").
 */
import { parseArgs } from "node:util";
import { DEFAULT_TENANT } from "../db/schema.js";
import { SCOPES, formatEntry, generateApiKey, hashApiKey, parseApiKeyEntries, type Scope } from "./api-keys.js";

const { positionals } = parseArgs({ allowPositionals: true });
const [owner, scopeList = SCOPES.join("+")] = positionals;
if (!owner) {
  console.error(`usage: npm run api-key -- [<tenant-id>/]<client-id> [scopes, default ${SCOPES.join("+")}]`);
  process.exit(2);
}
const [tenantId, clientId] = owner.includes("/") ? (owner.split("/", 2) as [string, string]) : [DEFAULT_TENANT, owner];
const key = generateApiKey();
const entry = formatEntry(clientId, scopeList.split("+") as Scope[], hashApiKey(key), tenantId);
try {
  parseApiKeyEntries(entry, "arguments");
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}
console.log(`key (give it to the client; it is not stored anywhere): ${key}`);
console.log(`entry (add to API_KEYS or API_KEYS_FILE): ${entry}`);
