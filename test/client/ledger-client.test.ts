/**
 * The typed client (`payment-ledger/client`) against the real service over Connect and gRPC (also
 * while the service process is SIGKILLed and restarted under it), its retry and key rules against
 * a server that fails on purpose, and the examples/ script run as a user would run it.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer, type Http2Server, type ServerHttp2Session } from "node:http2";
import { once } from "node:events";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import postgres from "postgres";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  AccountService, AccountStatus, Code, ConnectError, connectionLost, createLedgerClient, PaymentService, PaymentSchema, PaymentStatus, replaySafe,
} from "payment-ledger/client";
import { testKey } from "../support/api-keys.js";
import { createTestDatabase } from "../support/database.js";
import { freePort, spawnService, type ServiceProcess } from "../support/process.js";
import { startTestService, type TestService } from "../support/service.js";

const run = promisify(execFile);
const key = testKey("typed-client");
let svc: TestService;

before(async () => {
  svc = await startTestService({ AUTH_DISABLED: "false", API_KEYS: key.entry });
});
after(() => svc.stop());

describe("against the service", () => {
  for (const protocol of ["connect", "grpc"] as const) {
    it(`${protocol}: sends the key, makes idempotency keys when none is given, and a given key replays`, async () => {
      const ledger = createLedgerClient({ baseUrl: svc.url, apiKey: key.key, protocol });
      const payer = (await ledger.accounts.createAccount({ currency: "USD", displayName: "payer" })).account!.accountId;
      const payee = (await ledger.accounts.createAccount({ currency: "USD", displayName: "payee" })).account!.accountId;
      // Two deposits without keys are two deposits: each call got a key of its own.
      await ledger.accounts.depositFunds({ accountId: payer, amountCents: 300n, currency: "USD" });
      const second = await ledger.accounts.depositFunds({ accountId: payer, amountCents: 300n, currency: "USD" });
      assert.equal(second.availableBalanceCents, 600n);
      const order = { idempotencyKey: `order-${protocol}`, payerAccountId: payer, payeeAccountId: payee, amountCents: 100n, currency: "USD" };
      const first = (await ledger.payments.authorizePayment(order)).payment!;
      assert.equal(first.status, PaymentStatus.AUTHORIZED);
      assert.equal((await ledger.payments.authorizePayment(order)).payment!.paymentId, first.paymentId);
    });
  }

  for (const protocol of ["connect", "grpc"] as const) {
    it(`${protocol}: metadata, search, UpdatePayment and CloseAccount with the keys the client makes`, async () => {
      const ledger = createLedgerClient({ baseUrl: svc.url, apiKey: key.key, protocol });
      const tag = `typed-${protocol}`;
      const payer = (await ledger.accounts.createAccount({ currency: "USD", displayName: "payer", metadata: { tag } })).account!;
      assert.deepEqual(payer.metadata, { tag });
      assert.equal(payer.status, AccountStatus.OPEN);
      const payee = (await ledger.accounts.createAccount({ currency: "USD", displayName: "payee" })).account!.accountId;
      await ledger.accounts.depositFunds({ accountId: payer.accountId, amountCents: 500n, currency: "USD" });
      const paid = (await ledger.payments.authorizePayment({
        payerAccountId: payer.accountId, payeeAccountId: payee, amountCents: 500n, currency: "USD", metadata: { tag, order: "1" },
      })).payment!;
      const found = await ledger.payments.listPayments({ metadata: { tag }, minAmountCents: 500n });
      assert.deepEqual(found.payments.map((p) => p.paymentId), [paid.paymentId]);
      // No key given: the client makes one, as for every keyed request.
      const updated = (await ledger.payments.updatePayment({ paymentId: paid.paymentId, metadata: { tag, order: "1", invoice: "7" } })).payment!;
      assert.deepEqual(updated.metadata, { tag, order: "1", invoice: "7" });
      const closed = (await ledger.accounts.closeAccount({ accountId: payer.accountId })).account!;
      assert.equal(closed.status, AccountStatus.CLOSED);
      const listed = await ledger.accounts.listAccounts({ metadata: { tag }, statuses: [AccountStatus.CLOSED] });
      assert.deepEqual(listed.accounts.map((a) => a.accountId), [payer.accountId]);
    });
  }

  it("without the key the service refuses, and the client does not retry that", async () => {
    const ledger = createLedgerClient({ baseUrl: svc.url });
    await assert.rejects(ledger.accounts.getAccount({ accountId: "x" }), (e: unknown) => ConnectError.from(e).code === Code.Unauthenticated);
  });
});

describe("retries, deadlines and keys (a server that fails on purpose)", () => {
  let server: Http2Server;
  let url: string;
  const seen: { key: string; code?: Code | "drop connection" }[] = [];
  let failures: (Code | "drop connection")[] = [];
  const sessions = new Set<ServerHttp2Session>();

  before(async () => {
    server = createServer(
      connectNodeAdapter({
        routes: (router) =>
          router.service(PaymentService, {
            async authorizePayment(request, context) {
              const code = failures.shift();
              seen.push({ key: request.idempotencyKey, code });
              if (code === "drop connection") {
                // The service dying mid-call: the connection goes, with no answer.
                const gone = new Promise((resolve) => context.signal.addEventListener("abort", resolve));
                for (const session of sessions) session.destroy();
                await gone;
                throw new ConnectError("the connection is gone", Code.Canceled);
              }
              if (code === Code.DeadlineExceeded) {
                // Hold the call until the client's deadline ends it.
                await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
              }
              if (code !== undefined) throw new ConnectError("failing on purpose", code);
              return { payment: create(PaymentSchema, { paymentId: "p-1", status: PaymentStatus.AUTHORIZED }) };
            },
          }),
      }),
    ).listen(0, "127.0.0.1");
    server.on("session", (session) => sessions.add(session));
    await once(server, "listening");
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  // The clients keep their HTTP/2 sessions open; close() waits for them, so end them here.
  after(() => {
    for (const session of sessions) session.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const request = { payerAccountId: "a", payeeAccountId: "b", amountCents: 1n, currency: "USD" };
  const fast = { baseMs: 1, maxMs: 5 };

  for (const protocol of ["connect", "grpc"] as const) {
    it(`${protocol}: UNAVAILABLE and ABORTED are retried with the same, generated, idempotency key`, async () => {
      seen.length = 0;
      failures = [Code.Unavailable, Code.Aborted];
      const ledger = createLedgerClient({ baseUrl: url, protocol, backoff: fast, newIdempotencyKey: () => `generated-${seen.length}` });
      const { payment } = await ledger.payments.authorizePayment(request);
      assert.equal(payment!.paymentId, "p-1");
      assert.deepEqual(seen.map((s) => s.key), ["generated-0", "generated-0", "generated-0"]);
    });
  }

  for (const protocol of ["connect", "grpc"] as const) {
    it(`${protocol}: a connection lost under a keyed call is retried with the same key`, async () => {
      seen.length = 0;
      failures = ["drop connection"];
      const ledger = createLedgerClient({ baseUrl: url, protocol, backoff: fast, newIdempotencyKey: () => `lost-${seen.length}` });
      const { payment } = await ledger.payments.authorizePayment(request);
      assert.equal(payment!.paymentId, "p-1");
      assert.deepEqual(seen.map((s) => s.key), ["lost-0", "lost-0"]);
    });
  }

  it("other codes are not retried; attempts are bounded", async () => {
    seen.length = 0;
    failures = [Code.InvalidArgument];
    const ledger = createLedgerClient({ baseUrl: url, backoff: fast });
    await assert.rejects(ledger.payments.authorizePayment({ ...request, idempotencyKey: "k" }), (e: unknown) => ConnectError.from(e).code === Code.InvalidArgument);
    assert.equal(seen.length, 1);

    seen.length = 0;
    failures = [Code.Unavailable, Code.Unavailable, Code.Unavailable];
    const bounded = createLedgerClient({ baseUrl: url, backoff: fast, attempts: 3 });
    await assert.rejects(bounded.payments.authorizePayment({ ...request, idempotencyKey: "k" }), (e: unknown) => ConnectError.from(e).code === Code.Unavailable);
    assert.deepEqual(seen.map((s) => s.key), ["k", "k", "k"], "the caller's key is kept");
  });

  it("the deadline ends the call, retries included", async () => {
    seen.length = 0;
    failures = [Code.DeadlineExceeded];
    const ledger = createLedgerClient({ baseUrl: url, timeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(ledger.payments.authorizePayment(request), (e: unknown) => ConnectError.from(e).code === Code.DeadlineExceeded);
    assert.ok(Date.now() - started < 10_000);
    assert.equal(seen.length, 1);
  });
});

it("rides through the service being SIGKILLed three times under load: every call answers, each key once", { timeout: 180_000 }, async () => {
  const database = await createTestDatabase(2);
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const start = async () => {
    const service = spawnService({ AUTH_DISABLED: "true", PORT: String(port), DATABASE_URL: database.url, RATE_LIMIT_POINTS: "1000000" });
    await service.waitFor(/"msg":"listening/, 60_000);
    return service;
  };
  let service: ServiceProcess = await start();
  // Retries long enough to outlast a restart (a few seconds), as a caller who must not lose a payment sets them.
  const clients = (["connect", "grpc"] as const).map((protocol) =>
    createLedgerClient({ baseUrl, protocol, attempts: 200, backoff: { baseMs: 20, maxMs: 200 }, timeoutMs: 30_000 }));
  try {
    const [payer, payee] = await Promise.all(["payer", "payee"].map(async (displayName) =>
      (await clients[0]!.accounts.createAccount({ currency: "USD", displayName })).account!.accountId));
    await clients[0]!.accounts.depositFunds({ accountId: payer!, amountCents: 1_000_000n, currency: "USD" });
    let running = true;
    const answered = new Map<string, string>();
    const errors: string[] = [];
    const loops = Array.from({ length: 8 }, async (_, n) => {
      const ledger = clients[n % 2]!;
      for (let i = 0; running; i++) {
        const idempotencyKey = `ride-${n}-${i}`;
        try {
          const { payment } = await ledger.payments.authorizePayment({ idempotencyKey, payerAccountId: payer!, payeeAccountId: payee!, amountCents: 1n, currency: "USD" });
          answered.set(idempotencyKey, payment!.paymentId);
        } catch (error) {
          errors.push(`${idempotencyKey}: ${ConnectError.from(error).message}`);
        }
      }
    });
    for (let kill = 0; kill < 3; kill++) {
      const before = answered.size;
      while (answered.size < before + 50) await new Promise((resolve) => setTimeout(resolve, 20));
      await service.stop("SIGKILL");
      service = await start();
    }
    const afterRestart = answered.size;
    while (answered.size < afterRestart + 50) await new Promise((resolve) => setTimeout(resolve, 20));
    running = false;
    await Promise.all(loops);
    assert.deepEqual(errors, [], "no call failed: lost connections and the restarts were retried");
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    const [paid] = await sql<{ n: number }[]>`select count(*)::int as n from payments`;
    await sql.end();
    assert.equal(paid!.n, answered.size, "one payment per key, none twice");
    assert.equal(new Set(answered.values()).size, answered.size);
  } finally {
    await service.stop();
    await database.drop();
  }
});

describe("which failures are a lost connection, which requests are safe to send again", () => {
  const socketError = (code: string) => Object.assign(new Error(`write ${code}`), { code });

  it("socket failures the client raised are a lost connection; answers of the service are not", () => {
    assert.equal(connectionLost(new ConnectError("write EPIPE", Code.Internal, undefined, undefined, socketError("EPIPE")), false), true);
    assert.equal(connectionLost(new ConnectError("read ECONNRESET", Code.Aborted, undefined, undefined, socketError("ECONNRESET")), false), true);
    assert.equal(connectionLost(new ConnectError("http/2 stream closed with error code CANCEL (0x8)", Code.Canceled), false), true);
    assert.equal(connectionLost(new ConnectError("http/2 stream closed with error code CANCEL (0x8)", Code.Canceled), true), false, "the caller cancelled");
    assert.equal(connectionLost(new ConnectError("internal error (request id 1)", Code.Internal), false), false);
    assert.equal(connectionLost(new ConnectError("contention", Code.Aborted), false), false);
  });

  it("reads, keyed requests and CreateAccount with its account id are safe; the rest is not", () => {
    const { createAccount, getAccount, closeAccount, depositFunds } = AccountService.method;
    assert.equal(replaySafe({ method: getAccount, message: { accountId: "a" } as never }), true);
    assert.equal(replaySafe({ method: depositFunds, message: { idempotencyKey: "k" } as never }), true);
    assert.equal(replaySafe({ method: depositFunds, message: { idempotencyKey: "" } as never }), false);
    assert.equal(replaySafe({ method: createAccount, message: { accountId: "acc-1" } as never }), true);
    assert.equal(replaySafe({ method: createAccount, message: { accountId: "" } as never }), false);
    assert.equal(replaySafe({ method: closeAccount, message: { accountId: "acc-1", idempotencyKey: "k" } as never }), true);
  });
});

it("examples/authorize-payment.ts runs against the service", async () => {
  const { stdout } = await run(process.execPath, ["--import", "tsx", "examples/authorize-payment.ts"], {
    env: { ...process.env, LEDGER_URL: svc.url, LEDGER_API_KEY: key.key },
    timeout: 60_000,
  });
  const steps = Object.fromEntries(
    stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { step: string })
      .map((line) => [line.step, line]),
  ) as Record<string, Record<string, unknown>>;
  assert.equal(steps.deposit?.availableBalanceCents, "10000");
  assert.equal(steps.payment?.status, "AUTHORIZED");
  assert.equal(steps.replay?.same, true);
  assert.equal(steps.search?.same, true, "the payment is found by its metadata");
  assert.equal(steps.balance?.availableBalanceCents, "2500");
});
