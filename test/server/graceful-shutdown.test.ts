/**
 * `npm start` as an operator runs it, stopped by `kill` of the started process, with 200 payments
 * in flight over HTTP/1.1 keep-alive connections: every request that arrived before SIGTERM
 * completes (no ECONNRESET), each of those responses says `Connection: close`, then the process exits 0.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import http from "node:http";
import { it } from "node:test";
import postgres from "postgres";
import { jsonClients } from "../support/clients.js";
import { createTestDatabase } from "../support/database.js";
import { freePort } from "../support/process.js";
import { EDGE_DEFAULTS } from "../support/service.js";
import { until } from "../support/until.js";

interface Outcome {
  status?: number;
  connection?: string;
  error?: string;
}

function post(agent: http.Agent, port: number, path: string, body: unknown, sent: () => void): Promise<Outcome> {
  return new Promise((resolve) => {
    const request = http.request(
      { host: "127.0.0.1", port, path, method: "POST", agent, headers: { "content-type": "application/json" } },
      (response) => {
        response.resume();
        response.on("end", () => resolve({ status: response.statusCode, connection: response.headers.connection }));
      },
    );
    request.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    request.on("finish", sent);
    request.end(JSON.stringify(body));
  });
}

it("kill of `npm start` drains 200 in-flight HTTP/1.1 keep-alive payments without a reset", async () => {
  const database = await createTestDatabase();
  const port = await freePort();
  const inherited = { ...process.env };
  delete inherited.KAFKA_BROKERS;
  const npm = spawn("npm", ["start", "--silent"], {
    env: { ...inherited, ...EDGE_DEFAULTS, DATABASE_URL: database.url, PORT: String(port), SHUTDOWN_TIMEOUT_MS: "30000" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  npm.stdout.on("data", (chunk) => (output += chunk));
  npm.stderr.on("data", (chunk) => (output += chunk));
  const exited = once(npm, "exit");
  const blocker = postgres(database.url, { max: 1 });
  try {
    await until("the service listening", () => output.includes('"msg":"listening'), { timeoutMs: 60_000, detail: () => output });
    const url = `http://127.0.0.1:${port}`;
    const { accounts } = jsonClients(url);
    const payer = (await accounts.createAccount({ currency: "USD", displayName: "payer" })).account!.accountId;
    const payee = (await accounts.createAccount({ currency: "USD", displayName: "payee" })).account!.accountId;
    await accounts.depositFunds({ idempotencyKey: "seed", accountId: payer, amountCents: 1_000_000n, currency: "USD" });

    // Hold the payer's balance row so that all 200 payments are in flight when SIGTERM arrives.
    let release!: () => void;
    const locked = new Promise<void>((resolve) => {
      void blocker.begin(async (sql) => {
        await sql`select 1 from balances where account_id = ${payer} for update`;
        resolve();
        await new Promise<void>((r) => (release = r));
      });
    });
    await locked;
    const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
    let written = 0;
    const outcomes = Array.from({ length: 200 }, (_, i) =>
      post(
        agent,
        port,
        "/payment.v1.PaymentService/AuthorizePayment",
        { idempotencyKey: `k${i}`, payerAccountId: payer, payeeAccountId: payee, amountCents: "1", currency: "USD" },
        () => written++,
      ),
    );
    await until("200 requests written", () => written === 200);
    await new Promise((resolve) => setTimeout(resolve, 500)); // they reach the server and wait on the lock

    npm.kill("SIGTERM"); // the process `npm start` started, as `kill $!` would
    // The drain has begun (close() follows within a tick): only then may the payments finish. A
    // fixed 500 ms here was too short under the full suite's load (responses went out keep-alive).
    await until("the drain started", () => output.includes("shutting down"), { timeoutMs: 30_000, detail: () => output });
    release();
    const results = await Promise.all(outcomes);
    const [code] = await exited;
    agent.destroy();

    const errors = results.filter((r) => r.error).map((r) => r.error);
    assert.deepEqual(errors, [], "no request that arrived before SIGTERM was reset");
    assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
    assert.deepEqual([...new Set(results.map((r) => r.connection))], ["close"], "keep-alive clients are told to reconnect elsewhere");
    assert.equal(code, 0, output);
    assert.match(output, /"msg":"stopped"/);
    const check = postgres(database.url, { max: 1 });
    const rows = await check`select count(*)::int as count from payments`;
    await check.end();
    assert.equal(rows[0]!.count, 200);
  } finally {
    npm.kill("SIGKILL");
    await blocker.end();
    await database.drop();
  }
});
