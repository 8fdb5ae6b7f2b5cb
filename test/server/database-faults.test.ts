/**
 * The service as a process through PostgreSQL faults, on a cluster this file owns: start-up before
 * the database exists (bounded, logged wait; readiness 503; UNAVAILABLE), a crash under payment
 * load (UNAVAILABLE, never INTERNAL; readiness false within about 1 s and true again within about
 * 1 s of the return; no process exit; full throughput within 2 s), and the start-up bound.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { jsonClients } from "../support/clients.js";
import { createOwnPostgres, type OwnPostgres } from "../support/postgres-cluster.js";
import { freePort, spawnService, type ServiceProcess } from "../support/process.js";
import { EDGE_DEFAULTS } from "../support/service.js";
import { until } from "../support/until.js";

let pg: OwnPostgres;
before(async () => {
  pg = await createOwnPostgres({ started: false });
});
after(() => pg.remove());

const readiness = async (url: string) => (await fetch(`${url}/readyz`).catch(() => undefined))?.status;
const codeOf = (error: unknown) => ConnectError.from(error).code;

it("waits for a database that is not there yet, survives its crash and serves at full rate right after", async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const service: ServiceProcess = spawnService({ ...EDGE_DEFAULTS, PORT: String(port), DATABASE_URL: pg.url, DB_STARTUP_TIMEOUT_MS: "120000" });
  try {
    await service.waitFor(/database unreachable at start-up: waiting/, 30_000);
    assert.equal(await readiness(url), 503, "not ready without a database");
    const { accounts, payments } = jsonClients(url);
    await assert.rejects(accounts.createAccount({ currency: "USD", displayName: "early" }), (error) => codeOf(error) === Code.Unavailable);

    pg.start();
    await service.waitFor(/"msg":"listening/, 30_000);
    await until("ready after the database came", async () => (await readiness(url)) === 200, { timeoutMs: 5_000 });

    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const account = (await accounts.createAccount({ currency: "USD", displayName: `a${i}` })).account!;
      await accounts.depositFunds({ idempotencyKey: `seed-${i}`, accountId: account.accountId, amountCents: 1_000_000n, currency: "USD" });
      ids.push(account.accountId);
    }

    // 32 clients pay in a loop; every outcome is counted by code and by time.
    const codes = new Map<string, number>();
    const successes: number[] = [];
    let stop = false;
    let n = 0;
    const workers = Array.from({ length: 32 }, async (_, w) => {
      while (!stop) {
        const key = `w${w}-${n++}`;
        try {
          await payments.authorizePayment({ idempotencyKey: key, payerAccountId: ids[w % 8]!, payeeAccountId: ids[(w + 1) % 8]!, amountCents: 1n, currency: "USD" });
          successes.push(performance.now());
        } catch (error) {
          const code = Code[codeOf(error)];
          codes.set(code, (codes.get(code) ?? 0) + 1);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    });
    await until("payments flowing", () => successes.length > 200);
    const rateBefore = successes.filter((t) => t > performance.now() - 1_000).length;

    const crashedAt = performance.now();
    pg.crash();
    await until("readiness false after the crash", async () => (await readiness(url)) === 503, { timeoutMs: 5_000, intervalMs: 20 });
    const notReadyMs = performance.now() - crashedAt;
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // the outage, as the clients see it

    pg.start();
    const returnedAt = performance.now();
    await until("readiness true after the return", async () => (await readiness(url)) === 200, { timeoutMs: 10_000, intervalMs: 20 });
    const readyMs = performance.now() - returnedAt;
    await until("a payment after the return", () => successes.some((t) => t > returnedAt), { timeoutMs: 10_000 });
    const firstPaymentMs = successes.find((t) => t > returnedAt)! - returnedAt;
    // Full rate: within 2 s of the return, a 1 s window about as busy as before the crash. The stall
    // this guards against was 1 payment/s against 48/s; a quarter leaves room for a neighbour test
    // on the 2 shared cores (seen: 54/s against 116/s while the fuzz test ran beside it).
    const fullRateWindowEnd = returnedAt + 3_000;
    await until("3 s after the return", () => performance.now() > fullRateWindowEnd, { timeoutMs: 10_000 });
    const rateAfter = successes.filter((t) => t > returnedAt + 2_000 && t <= fullRateWindowEnd).length;
    stop = true;
    await Promise.all(workers);

    console.log(
      `database crash: readiness false after ${Math.round(notReadyMs)} ms; back: ready after ${Math.round(readyMs)} ms, ` +
        `first payment after ${Math.round(firstPaymentMs)} ms; payments/s before ${rateBefore}, 2-3 s after the return ${rateAfter}; ` +
        `errors ${JSON.stringify(Object.fromEntries(codes))}`,
    );
    assert.equal(service.child.exitCode, null, "the process is still running");
    assert.ok(codes.get("Unavailable")! > 0, "the outage reached clients as UNAVAILABLE");
    assert.deepEqual([...codes.keys()].filter((code) => code !== "Unavailable"), [], "no other error code, INTERNAL least of all");
    assert.ok(notReadyMs < 1_500, `readiness false ${Math.round(notReadyMs)} ms after the crash`);
    assert.ok(readyMs < 1_500, `readiness true ${Math.round(readyMs)} ms after the return`);
    assert.ok(rateAfter >= rateBefore / 4, `full rate within 2 s of the return (${rateAfter}/s vs ${rateBefore}/s)`);
    assert.doesNotMatch(service.output(), /reading 'write'|uncaught|unhandled/i);
  } finally {
    await service.stop();
  }
});

it("gives up after DB_STARTUP_TIMEOUT_MS with a message that names it", async () => {
  pg.crash();
  const service = spawnService({ ...EDGE_DEFAULTS, PORT: String(await freePort()), DATABASE_URL: pg.url, DB_STARTUP_TIMEOUT_MS: "1500" });
  const [code] = await new Promise<[number | null]>((resolve) => service.child.once("exit", (c) => resolve([c])));
  assert.equal(code, 1);
  assert.match(service.output(), /cannot start: database .* unreachable for \d+ ms \(.*ECONNREFUSED.*\); gave up after DB_STARTUP_TIMEOUT_MS=1500/);
});
