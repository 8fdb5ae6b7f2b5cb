/**
 * Failover errors as the driver really raises them map to `unavailable` (DATABASE_UNAVAILABLE),
 * retryable with the same idempotency key, never `internal`: a write refused by a server in
 * recovery or a read-only session (25006), a backend terminated by an operator or a demotion
 * (57P01), and a multi-host URL with no primary to connect to.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { toConnectError } from "../../src/api/error-mapping.js";
import { ErrorDetailSchema } from "../../gen/payment/v1/common_pb.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { capturingLogger } from "../support/logs.js";

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase(2);
});
after(() => database?.drop());

function assertUnavailable(error: unknown) {
  const { logger } = capturingLogger("silent");
  const mapped = toConnectError(error, "req-1", logger, "/payment.v1.PaymentService/AuthorizePayment");
  assert.equal(mapped.code, Code.Unavailable, `${String(error)} -> ${Code[mapped.code]}`);
  assert.equal(mapped.findDetails(ErrorDetailSchema)[0]?.code, "DATABASE_UNAVAILABLE");
}

test("a write refused as read-only (SQLSTATE 25006, what a standby answers) is unavailable", async () => {
  const error = await database.handle.db
    .transaction(async (tx) => {
      await tx.execute(sql`set transaction read only`);
      await tx.execute(sql`create table never_created (id int)`);
    })
    .then(() => assert.fail("the write succeeded"), (error: unknown) => error);
  assert.equal((error as { cause?: { code?: string } }).cause?.code, "25006");
  assertUnavailable(error);
});

test("a backend terminated under a query (SQLSTATE 57P01, a demotion or an operator) is unavailable", async () => {
  const victim = postgres(database.url, { max: 1, onnotice: () => {}, connection: { application_name: "error-mapping-victim" } });
  try {
    const running = victim`select pg_sleep(30)`.then(() => assert.fail("not terminated"), (error: unknown) => error);
    const admin = database.handle.postgresClient!;
    for (let killed = 0; killed === 0; ) {
      killed = (await admin`select count(*)::int as n from pg_stat_activity where application_name = 'error-mapping-victim' and query like 'select pg_sleep%' and pg_terminate_backend(pid)`)[0]!.n as number;
    }
    const error = await running;
    // The FATAL (57P01) or the close that follows it, whichever the driver saw first.
    assert.ok(["57P01", "CONNECTION_CLOSED"].includes((error as { code?: string }).code ?? ""), String(error));
    assertUnavailable(error);
  } finally {
    await victim.end({ timeout: 1 });
  }
});

test("the driver's other failover codes, wrapped as Drizzle wraps them, are unavailable", () => {
  // CONNECTION_NOT_READ_WRITE: every host of a multi-host URL was down or a standby (test/db/multi-host.test.ts
  // raises it for real); 57P02/57P03: crash shutdown, "the database system is in recovery mode".
  for (const code of ["CONNECTION_NOT_READ_WRITE", "57P01", "57P02", "57P03", "25006"]) {
    assertUnavailable(Object.assign(new Error("Failed query"), { cause: Object.assign(new Error(code), { code }) }));
  }
});
