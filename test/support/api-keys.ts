/** API keys for tests: a fresh key and the configuration entry that grants it. */
import { SCOPES, formatEntry, generateApiKey, hashApiKey, type Scope } from "../../src/auth/api-keys.js";

export interface TestKey {
  key: string;
  /** For API_KEYS. */
  entry: string;
}

/** A unique client id per call keeps test files from sharing rate-limit counters in Redis. */
export function testKey(clientPrefix: string, scopes: readonly Scope[] = SCOPES): TestKey & { clientId: string } {
  const clientId = `${clientPrefix}-${Math.random().toString(36).slice(2, 8)}`;
  const key = generateApiKey();
  return { clientId, key, entry: formatEntry(clientId, scopes, hashApiKey(key)) };
}
