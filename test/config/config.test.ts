import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/config.js";

describe("loadConfig", () => {
  it("fills defaults for an empty environment (embedded PGlite on port 8080)", () => {
    const config = loadConfig({});
    assert.equal(config.PORT, 8080);
    assert.equal(config.HOST, "127.0.0.1");
    assert.equal(config.DATABASE_URL, undefined);
    assert.equal(config.IDEMPOTENCY_TTL_HOURS, 24);
  });

  it("converts numbers and treats empty variables as unset", () => {
    const config = loadConfig({ PORT: "9090", DB_POOL_SIZE: "7", DATABASE_URL: "" });
    assert.equal(config.PORT, 9090);
    assert.equal(config.DB_POOL_SIZE, 7);
    assert.equal(config.DATABASE_URL, undefined);
  });

  it("reports every invalid variable at once", () => {
    assert.throws(
      () => loadConfig({ PORT: "70000", IDEMPOTENCY_TTL_HOURS: "1.5", TLS_KEY_FILE: "key.pem" }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(
          error.problems.map((p) => p.split(":")[0]),
          ["PORT", "IDEMPOTENCY_TTL_HOURS", "TLS_CERT_FILE and TLS_KEY_FILE"],
        );
        assert.match(error.problems[0]!, /got "70000"/);
        return true;
      },
    );
  });
});

describe("hold settings", () => {
  it("default to 7 days and refuse lifetimes outside 60 s to 30 days", () => {
    assert.equal(loadConfig({}).HOLD_EXPIRES_IN_SECONDS, 604_800);
    assert.equal(loadConfig({ HOLD_EXPIRES_IN_SECONDS: "60" }).HOLD_EXPIRES_IN_SECONDS, 60);
    for (const value of ["59", "2592001", "1.5"]) {
      assert.throws(
        () => loadConfig({ HOLD_EXPIRES_IN_SECONDS: value }),
        (error: unknown) => error instanceof ConfigError && error.problems[0]!.startsWith("HOLD_EXPIRES_IN_SECONDS"),
        value,
      );
    }
  });
});
