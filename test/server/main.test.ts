/**
 * The service as a process: the embedded PGlite default that `npm start` uses with nothing
 * configured, graceful shutdown on signals, and refusal to start on invalid configuration.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { PaymentStatus } from "../../gen/payment/v1/payment_pb.js";
import { jsonClients } from "../support/clients.js";
import { freePort, spawnService } from "../support/process.js";

const dataDir = mkdtempSync(join(tmpdir(), "ledger-pglite-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

it("runs on embedded PGlite with nothing configured and npm start's heap limit, keeps data across restarts, and stops on SIGTERM", async () => {
  const port = await freePort();
  const env = { PORT: String(port), PGLITE_DATA_DIR: dataDir };
  const first = spawnService(env);
  await first.waitFor(/"msg":"listening/, 60_000);
  assert.match(first.output(), /using embedded PGlite/);
  // npm start's --max-old-space-size=128 (old generation) plus the young generation: 176 MB.
  const heapLimitMb = Number(/"heapLimitMb":(\d+)/.exec(first.output())?.[1]);
  assert.ok(heapLimitMb > 0 && heapLimitMb <= 200, `runs with npm start's heap limit (${heapLimitMb} MB)`);
  // Its memory is measured and logged at start (figures belong in the README, not in a test).
  const rssMb = Number(/"rssMb":(\d+)/.exec(first.output())?.[1]);
  const peakRssMb = Number(/"peakRssMb":(\d+)/.exec(first.output())?.[1]);
  assert.ok(rssMb > 0 && peakRssMb >= rssMb, `resident ${rssMb} MB and peak ${peakRssMb} MB are logged`);
  // With nothing configured, the first start mints a development key beside the data.
  const { accounts, payments } = jsonClients(`http://127.0.0.1:${port}`, readFileSync(join(dataDir, "dev-api-key"), "utf8").trim());
  const payer = (await accounts.createAccount({ currency: "USD", displayName: "A", accountId: "alice" })).account!;
  await accounts.createAccount({ currency: "USD", displayName: "B", accountId: "bob" });
  await accounts.depositFunds({ idempotencyKey: "d1", accountId: "alice", amountCents: 1_000n, currency: "USD" });
  const { payment } = await payments.authorizePayment({ idempotencyKey: "p1", payerAccountId: "alice", payeeAccountId: "bob", amountCents: 400n, currency: "USD" });
  assert.equal(payment?.status, PaymentStatus.AUTHORIZED);
  assert.equal(await first.stop("SIGTERM"), 0);
  assert.match(first.output(), /shutting down/);
  assert.match(first.output(), /"msg":"stopped"/);

  const second = spawnService(env);
  await second.waitFor(/"msg":"listening/, 60_000);
  try {
    assert.equal((await payments.getAccountBalance({ accountId: "bob" })).availableBalanceCents, 400n);
    assert.deepEqual((await accounts.getAccount({ accountId: "alice" })).account, payer);
  } finally {
    assert.equal(await second.stop("SIGINT"), 0);
  }
});

it("refuses to start on invalid configuration with one message per problem", async () => {
  const service = spawnService({ PORT: "http", DB_POOL_SIZE: "0", DATABASE_URL: "mysql://u:secret@h/db", LOG_LEVEL: "loud" });
  const code = await new Promise((resolve) => service.child.once("exit", resolve));
  assert.equal(code, 2);
  const lines = service.output().split("\n").filter((line) => line.startsWith("  - "));
  assert.deepEqual(
    lines.map((line) => line.slice(4).split(":")[0]),
    ["PORT", "DATABASE_URL", "DB_POOL_SIZE", "LOG_LEVEL"],
  );
  assert.doesNotMatch(service.output(), /secret/, "the database password is not echoed");
});
