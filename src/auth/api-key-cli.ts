/**
 * `npm run api-key -- <client-id> [scope+scope]`: mints a key, prints it once for the client and
 * the entry (with only its hash) for API_KEYS or API_KEYS_FILE.
 */
import { parseArgs } from "node:util";
import { SCOPES, formatEntry, generateApiKey, hashApiKey, parseApiKeyEntries, type Scope } from "./api-keys.js";

const { positionals } = parseArgs({ allowPositionals: true });
const [clientId, scopeList = SCOPES.join("+")] = positionals;
if (!clientId) {
  console.error(`usage: npm run api-key -- <client-id> [scopes, default ${SCOPES.join("+")}]`);
  process.exit(2);
}
const key = generateApiKey();
const entry = formatEntry(clientId, scopeList.split("+") as Scope[], hashApiKey(key));
try {
  parseApiKeyEntries(entry, "arguments");
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}
console.log(`key (give it to the client; it is not stored anywhere): ${key}`);
console.log(`entry (add to API_KEYS or API_KEYS_FILE): ${entry}`);
