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

describe("DATABASE_URL with several hosts (high availability)", () => {
  const problemsOf = (url: string) => {
    try {
      loadConfig({ DATABASE_URL: url });
      return [];
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems;
    }
  };

  it("accepts one host, or several with target_session_attrs=read-write or primary", () => {
    assert.deepEqual(problemsOf("postgres://u:p@db:5432/ledger"), []);
    assert.deepEqual(problemsOf("postgres://u:p@db1:5432,db2:5432/ledger?target_session_attrs=read-write"), []);
    assert.deepEqual(problemsOf("postgresql://u@10.0.0.1:5432,10.0.0.2:5433/ledger?target_session_attrs=primary"), []);
  });

  it("refuses several hosts without a primary-only target_session_attrs, saying what to add", () => {
    const [problem] = problemsOf("postgres://u:secret@db1:5432,db2:5432/ledger");
    assert.match(problem!, /^DATABASE_URL: names 2 hosts but not target_session_attrs=read-write: add \?target_session_attrs=read-write/);
    assert.doesNotMatch(problem!, /secret/, "the password is never echoed");
    assert.match(problemsOf("postgres://u@db1,db2/ledger?target_session_attrs=any")[0]!, /names 2 hosts/);
  });

  it("refuses a target_session_attrs that sends writes to a standby, or an unknown one", () => {
    assert.match(problemsOf("postgres://u@db:5432/ledger?target_session_attrs=standby")[0]!, /would send writes to a standby/);
    assert.match(problemsOf("postgres://u@db:5432/ledger?target_session_attrs=readwrite")[0]!, /is not one of any, read-write/);
  });
});

describe("READ_DATABASE_URL", () => {
  it("is optional, needs DATABASE_URL, and has a staleness bound (default 1 s)", () => {
    const config = loadConfig({ DATABASE_URL: "postgres://u@db/ledger", READ_DATABASE_URL: "postgres://u@replica1,replica2/ledger?target_session_attrs=any" });
    assert.equal(config.READ_MAX_STALENESS_MS, 1_000);
    assert.throws(() => loadConfig({ READ_DATABASE_URL: "postgres://u@replica/ledger" }), /READ_DATABASE_URL: needs DATABASE_URL/);
    assert.throws(
      () => loadConfig({ DATABASE_URL: "postgres://u@db/ledger", READ_DATABASE_URL: "postgres://u@replica/ledger?target_session_attrs=sometimes" }),
      /READ_DATABASE_URL: target_session_attrs=sometimes is not one of/,
    );
  });
});

describe("relay linger", () => {
  it("defaults to 50 ms, accepts 0 (claim at once) and refuses what is not 0 to 1000", () => {
    assert.equal(loadConfig({}).RELAY_LINGER_MS, 65);
    assert.equal(loadConfig({ RELAY_LINGER_MS: "0" }).RELAY_LINGER_MS, 0);
    for (const bad of ["-1", "1001", "abc"]) {
      assert.throws(
        () => loadConfig({ RELAY_LINGER_MS: bad }),
        (error: unknown) => error instanceof ConfigError && error.problems.length === 1 && error.problems[0]!.startsWith("RELAY_LINGER_MS"),
      );
    }
  });
});
