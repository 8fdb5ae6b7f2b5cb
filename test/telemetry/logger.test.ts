import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { it } from "node:test";
import { createLogger, redactUrl } from "../../src/telemetry/logger.js";

it("masks passwords in URLs and censors secret fields", () => {
  assert.equal(redactUrl("postgres://app:s3cret@db:5432/ledger"), "postgres://app:***@db:5432/ledger");
  assert.equal(redactUrl("postgres://db/ledger"), "postgres://db/ledger");
  // A multi-host URL (high availability) is no WHATWG URL; its password is masked all the same.
  assert.equal(
    redactUrl("postgres://app:s3cret@db1:5432,db2:5432/ledger?target_session_attrs=read-write"),
    "postgres://app:***@db1:5432,db2:5432/ledger?target_session_attrs=read-write",
  );
  let written = "";
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => ((written += chunk.toString()), done()) });
  createLogger("info", sink).info({ password: "p4ss", headers: { authorization: "Bearer k3y" }, config: { apiKey: "k" } }, "hello");
  assert.doesNotMatch(written, /p4ss|k3y|"k"/);
  assert.match(written, /\[redacted\]/);
});
