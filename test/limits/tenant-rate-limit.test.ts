/** The per-tenant limit through the running service with the harness's Redis: a tenant's clients share it. */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { testKey } from "../support/api-keys.js";
import { jsonClients } from "../support/clients.js";
import { rejectsWith } from "../support/connect-errors.js";
import { startTestService, type TestService } from "../support/service.js";

// A tenant of its own: the harness's Redis is shared by every test file.
const tenant = `rl-${Math.random().toString(36).slice(2, 8)}`;
const one = testKey("tenant-one", ["read"]);
const two = testKey("tenant-two", ["read"]);
const outsider = testKey("outsider");
let svc: TestService;

before(async () => {
  assert.ok(process.env.REDIS_URL, "REDIS_URL is set by scripts/test.sh");
  svc = await startTestService({
    AUTH_DISABLED: "false",
    API_KEYS: [`${tenant}/${one.entry}`, `${tenant}/${two.entry}`, outsider.entry].join(","),
    REDIS_URL: process.env.REDIS_URL,
    RATE_LIMIT_POINTS: "1000",
    RATE_LIMIT_WINDOW_SECONDS: "60",
    RATE_LIMIT_TENANTS: `${tenant}=4`,
  });
});
after(() => svc?.stop());

it("two clients of one tenant share its limit; another tenant is not touched", async () => {
  const call = (key: string) => jsonClients(svc.url, key).payments.getAccountBalance({ accountId: "nobody" });
  for (const key of [one.key, two.key, one.key, two.key]) await rejectsWith(call(key), Code.NotFound, "ACCOUNT_NOT_FOUND");
  const refused = await rejectsWith(call(two.key), Code.ResourceExhausted, "RATE_LIMITED");
  assert.match(refused.rawMessage, new RegExp(`^rate limit of tenant ${tenant} exceeded: retry in \\d+ ms$`));
  assert.ok(Number(refused.metadata.get("retry-after-ms")) > 0);
  // The default tenant has no tenant limit here (RATE_LIMIT_TENANT_POINTS is 0).
  for (let i = 0; i < 6; i++) await rejectsWith(call(outsider.key), Code.NotFound, "ACCOUNT_NOT_FOUND");
});
