/** The limiter against a real Redis: exact under concurrency, shared, and insured when Redis fails. */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import type { Counter } from "@opentelemetry/api";
import { Redis } from "ioredis";
import { ConfigError, loadConfig } from "../../src/config/config.js";
import { RateLimits, parseMethodLimits, parseTenantLimits, type RateLimitDecision } from "../../src/limits/rate-limits.js";
import { connectRedis } from "../../src/limits/redis-connection.js";
import { capturingLogger } from "../support/logs.js";
import { startOwnRedis, type OwnRedis } from "../support/redis-server.js";
import { until } from "../support/until.js";

const BALANCE = "payment.v1.PaymentService/GetAccountBalance";
let redis: OwnRedis;
const clients: Redis[] = [];

before(async () => {
  redis = await startOwnRedis();
});
after(async () => {
  for (const client of clients) client.disconnect();
  await redis.kill();
});

function capture() {
  const { lines, logger } = capturingLogger("debug");
  let fallbacks = 0;
  const counter = { add: (n: number) => (fallbacks += n) } as unknown as Counter;
  return { lines, logger, counter, fallbacks: () => fallbacks };
}

async function connected(url: string, logger = capture().logger): Promise<Redis> {
  const client = connectRedis(url, logger);
  clients.push(client);
  await until("Redis to be ready", () => client.status === "ready", { intervalMs: 20 });
  return client;
}

function limits(options: { redis?: Redis; points: number; prefix: string; sink?: ReturnType<typeof capture> }): RateLimits {
  const sink = options.sink ?? capture();
  return new RateLimits({
    points: options.points,
    windowSeconds: 60,
    methods: "",
    redis: options.redis,
    keyPrefix: options.prefix,
    logger: sink.logger,
    fallbacks: sink.counter,
  });
}

const allowedCount = (decisions: RateLimitDecision[]) => decisions.filter((d) => d.allowed).length;

it("50 concurrent requests against a limit of 10: exactly 10 pass, the rest learn when to retry", async () => {
  const limiter = limits({ redis: await connected(redis.url), points: 10, prefix: "race" });
  const decisions = await Promise.all(Array.from({ length: 50 }, () => limiter.consume(BALANCE, "client:a")));
  assert.equal(allowedCount(decisions), 10);
  for (const decision of decisions) {
    if (!decision.allowed) assert.ok(decision.retryAfterMs > 0 && decision.retryAfterMs <= 60_000, String(decision.retryAfterMs));
  }
  const other = await limiter.consume(BALANCE, "client:b");
  assert.equal(other.allowed, true, "each client has its own budget");
});

it("two instances share one budget through Redis", async () => {
  const first = limits({ redis: await connected(redis.url), points: 10, prefix: "shared" });
  const second = limits({ redis: await connected(redis.url), points: 10, prefix: "shared" });
  const decisions = await Promise.all(
    Array.from({ length: 30 }, (_, i) => (i % 2 ? first : second).consume(BALANCE, "client:shared")),
  );
  assert.equal(allowedCount(decisions), 10);
});

it("Redis slow (paused): the in-memory insurance decides within the timeout, counted", async () => {
  const sink = capture();
  const limiter = limits({ redis: await connected(redis.url), points: 3, prefix: "slow", sink });
  const admin = await connected(redis.url);
  await admin.call("CLIENT", "PAUSE", "1500", "ALL");
  const started = Date.now();
  const decisions = await Promise.all(Array.from({ length: 5 }, () => limiter.consume(BALANCE, "client:slow")));
  assert.ok(Date.now() - started < 1_000, "did not wait for Redis");
  assert.equal(allowedCount(decisions), 3, "the insurance enforces the same limit");
  assert.equal(sink.fallbacks(), 5);
  assert.ok(sink.lines.some((line) => String(line.msg).startsWith("Redis unavailable or slow")));
  // Commands wait out the pause (or hit the client's command timeout): poll until a PING answers.
  await until("Redis to serve again after the pause", () => admin.ping().then(() => true, () => false), { timeoutMs: 10_000 });
});

it("Redis killed mid-traffic: no errors, memory takes over, Redis is used again when back", async () => {
  const sink = capture();
  const client = await connected(redis.url, sink.logger);
  const limiter = limits({ redis: client, points: 5, prefix: "killed", sink });
  assert.equal(allowedCount(await Promise.all([1, 2, 3].map(() => limiter.consume(BALANCE, "client:k")))), 3);
  assert.equal(sink.fallbacks(), 0);

  await redis.kill();
  const during = await Promise.all(Array.from({ length: 8 }, () => limiter.consume(BALANCE, "client:k")));
  assert.equal(allowedCount(during), 5, "the insurance applies the limit per instance");
  assert.equal(sink.fallbacks(), 8);
  // ioredis reports the lost connection from its socket events, which may come after the calls
  // above already fell back: wait for the log line (bounded) instead of racing it.
  await until(
    "the connection-lost log line",
    () => sink.lines.some((line) => line.msg === "Redis connection lost: rate limits fall back to per-instance memory"),
    { timeoutMs: 5_000, intervalMs: 20 },
  );

  await redis.restart();
  await until("Redis to be ready again", () => client.status === "ready");
  const afterwards = await Promise.all(Array.from({ length: 7 }, () => limiter.consume(BALANCE, "client:k")));
  assert.equal(sink.fallbacks(), 8, "no more fallbacks once Redis is back");
  assert.equal(allowedCount(afterwards), 5, "Redis counts again (its counters died with it)");
  assert.ok(sink.lines.some((line) => String(line.msg).startsWith("Redis connected")));
});

it("without Redis the limit is kept in memory", async () => {
  const limiter = limits({ points: 2, prefix: "memory" });
  const decisions = await Promise.all(Array.from({ length: 4 }, () => limiter.consume(BALANCE, "ip:127.0.0.1")));
  assert.equal(allowedCount(decisions), 2);
});

it("per-method limits name methods short or in full; unknown names are configuration errors", () => {
  assert.deepEqual(
    parseMethodLimits("AuthorizePayment=50,payment.v1.AccountService/CreateAccount=0"),
    new Map([
      ["payment.v1.PaymentService/AuthorizePayment", 50],
      ["payment.v1.AccountService/CreateAccount", 0],
    ]),
  );
  assert.throws(() => parseMethodLimits("AuthorisePayment=5"), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.problems[0]!, /^RATE_LIMIT_METHODS: unknown method AuthorisePayment \(known: .*AuthorizePayment/);
    return true;
  });
});

it("tenant limits: shared by every client and instance of the tenant, per tenant, with overrides", async () => {
  const sink = capture();
  const make = async () =>
    new RateLimits({
      points: 0,
      windowSeconds: 60,
      methods: "",
      tenantPoints: 10,
      tenants: "globex=3,initech=0",
      redis: await connected(redis.url),
      keyPrefix: "tenants",
      logger: sink.logger,
      fallbacks: sink.counter,
    });
  const [first, second] = [await make(), await make()];
  assert.ok(first.limitsTenants);
  // Two instances, 40 requests of one tenant at once: exactly its 10 pass.
  const acme = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? first : second).consumeTenant("acme")));
  assert.equal(allowedCount(acme), 10);
  // Another tenant has its own count; an override sets its limit; 0 means unlimited.
  assert.equal(allowedCount(await Promise.all(Array.from({ length: 12 }, () => first.consumeTenant("hooli")))), 10);
  assert.equal(allowedCount(await Promise.all(Array.from({ length: 12 }, () => second.consumeTenant("globex")))), 3);
  assert.equal(allowedCount(await Promise.all(Array.from({ length: 50 }, () => first.consumeTenant("initech")))), 50);
  assert.equal(sink.fallbacks(), 0, "Redis decided every one");
  assert.ok(!limits({ points: 5, prefix: "none" }).limitsTenants, "no tenant limit configured");
});

it("RATE_LIMIT_TENANTS is checked: malformed or repeated tenants are configuration errors", () => {
  assert.deepEqual([...parseTenantLimits("acme=5,globex=0")], [["acme", 5], ["globex", 0]]);
  assert.throws(() => parseTenantLimits("acme=5,acme=6"), (error: unknown) => error instanceof ConfigError && /acme is named twice/.test(error.message));
  assert.throws(() => loadConfig({ RATE_LIMIT_TENANTS: "Acme=5" }), /RATE_LIMIT_TENANTS: must look like acme=5000,default=20000/);
  assert.throws(() => loadConfig({ RATE_LIMIT_TENANT_POINTS: "-1" }), /RATE_LIMIT_TENANT_POINTS/);
});
