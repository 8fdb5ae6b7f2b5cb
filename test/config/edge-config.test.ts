import assert from "node:assert/strict";
import { it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/config.js";
import { createEdge } from "../../src/server/edge.js";
import { createLogger } from "../../src/telemetry/logger.js";

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
}

it("edge defaults: metrics on 127.0.0.1:9464, limits on, no CORS, embedded auth", () => {
  const config = loadConfig({});
  assert.equal(config.METRICS_HOST, "127.0.0.1");
  assert.equal(config.METRICS_PORT, 9464);
  assert.equal(config.RATE_LIMIT_POINTS, 1000);
  assert.equal(config.CORS_ORIGINS, "");
  assert.equal(config.AUTH_DISABLED, false);
});

it("PostgreSQL without keys is refused at start unless authentication is explicitly disabled", async () => {
  const logger = createLogger("silent");
  await assert.rejects(createEdge(loadConfig({ DATABASE_URL: "postgres://db/ledger", METRICS_PORT: "0" }), logger), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, ["API_KEYS or API_KEYS_FILE: required with DATABASE_URL (or AUTH_DISABLED=true on a closed network)"]);
    return true;
  });
  const open = await createEdge(loadConfig({ DATABASE_URL: "postgres://db/ledger", AUTH_DISABLED: "true", METRICS_PORT: "0" }), logger);
  await open.stop();
  // Command-line tools (migrations) need no keys.
  assert.deepEqual(problemsOf({ DATABASE_URL: "postgres://db/ledger" }), []);
});

it("each bad edge variable gets its own message; secrets are not echoed", () => {
  const problems = problemsOf({
    AUTH_DISABLED: "true",
    API_KEYS: "a:read:secret-looking",
    REDIS_URL: "http://redis:6379",
    RATE_LIMIT_POINTS: "-1",
    RATE_LIMIT_METHODS: "AuthorizePayment:50",
    METRICS_PORT: "99999",
  });
  assert.equal(problems.length, 5, problems.join("\n"));
  assert.ok(problems.includes("REDIS_URL: must start with redis:// or rediss://"), "URLs are not echoed");
  assert.ok(problems.some((p) => p === 'RATE_LIMIT_METHODS: must look like AuthorizePayment=50,CreateAccount=10 (got "AuthorizePayment:50")'));
  assert.ok(problems.some((p) => p.startsWith("RATE_LIMIT_POINTS: ")));
  assert.ok(problems.some((p) => p.startsWith("METRICS_PORT: ")));
  assert.ok(problems.includes("AUTH_DISABLED: cannot be true while API_KEYS or API_KEYS_FILE is set"));
  assert.ok(!problems.join("\n").includes("secret-looking"));
});
