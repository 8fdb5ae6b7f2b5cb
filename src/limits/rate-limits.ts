/**
 * Fixed-window rate limits per client and method, and per tenant (all its clients and methods
 * together, so that one tenant's many clients cannot crowd out the others). With Redis they are shared by every instance
 * (rate-limiter-flexible's RateLimiterRedis counts and expires in one Lua script, so concurrent
 * requests cannot both take the last point); without Redis, or while it is down, an in-memory
 * limiter with the same limits answers for this instance alone.
 */
import type { Counter } from "@opentelemetry/api";
import type { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { API_PROCEDURES } from "../api/procedures.js";
import { ConfigError } from "../config/config.js";
import type { Logger } from "../telemetry/logger.js";

export interface RateLimitOptions {
  /** Requests per window per client and method; 0 means unlimited. */
  points: number;
  windowSeconds: number;
  /** Overrides like "AuthorizePayment=50,payment.v1.AccountService/CreateAccount=10". */
  methods: string;
  /** Requests per window per tenant; 0 means unlimited. */
  tenantPoints?: number;
  /** Overrides like "acme=5000,default=0". */
  tenants?: string;
  /** Shared counters; in-memory when absent. */
  redis?: Redis;
  /** Namespace of the Redis keys, so that deployments sharing a Redis do not share counters. */
  keyPrefix: string;
  logger: Logger;
  /** Counts decisions the in-memory insurance made because Redis failed. */
  fallbacks: Counter;
}

export type RateLimitDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

/** How often, at most, a Redis fallback is logged while it lasts. */
const FALLBACK_LOG_INTERVAL_MS = 30_000;


/** Parses RATE_LIMIT_METHODS into full procedure names; unknown or ambiguous names are errors. */
export function parseMethodLimits(spec: string): Map<string, number> {
  const limits = new Map<string, number>();
  const problems: string[] = [];
  for (const item of spec.split(",").filter(Boolean)) {
    const [name = "", points = ""] = item.split("=");
    const matches = API_PROCEDURES.filter((procedure) => procedure === name || procedure.endsWith(`/${name}`));
    if (matches.length !== 1) problems.push(`RATE_LIMIT_METHODS: unknown method ${name} (known: ${API_PROCEDURES.join(", ")})`);
    else limits.set(matches[0]!, Number(points));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return limits;
}

/** Parses RATE_LIMIT_TENANTS ("acme=5000,default=0") into points per tenant. */
export function parseTenantLimits(spec: string): Map<string, number> {
  const limits = new Map<string, number>();
  for (const item of spec.split(",").filter(Boolean)) {
    const [tenant = "", points = ""] = item.split("=");
    if (limits.has(tenant)) throw new ConfigError([`RATE_LIMIT_TENANTS: tenant ${tenant} is named twice`]);
    limits.set(tenant, Number(points));
  }
  return limits;
}

/** The limiters of one service instance, one per distinct method limit, and the tenants'. */
export class RateLimits {
  private readonly limiters = new Map<string, RateLimiterAbstract | null>();
  private readonly tenantOverrides: Map<string, number>;
  private readonly tenantLimiters = new Map<number, RateLimiterAbstract>();
  private lastFallbackLog = 0;

  constructor(private readonly options: RateLimitOptions) {
    const overrides = parseMethodLimits(options.methods);
    for (const procedure of API_PROCEDURES) {
      const points = overrides.get(procedure) ?? options.points;
      this.limiters.set(procedure, points > 0 ? this.createLimiter(procedure, points) : null);
    }
    this.tenantOverrides = parseTenantLimits(options.tenants ?? "");
  }

  /** True when some tenant has a limit (the interceptor skips the tenant check otherwise). */
  get limitsTenants(): boolean {
    return (this.options.tenantPoints ?? 0) > 0 || [...this.tenantOverrides.values()].some((points) => points > 0);
  }

  /** Takes one point of `tenantId`'s limit (any method, any of its clients). */
  async consumeTenant(tenantId: string): Promise<RateLimitDecision> {
    const points = this.tenantOverrides.get(tenantId) ?? this.options.tenantPoints ?? 0;
    if (points <= 0) return { allowed: true };
    let limiter = this.tenantLimiters.get(points);
    if (!limiter) {
      // One limiter per distinct limit; the tenant id is the key, so counters are per tenant.
      limiter = this.createLimiter(`tenant:${points}`, points, `${this.options.keyPrefix}:tenant`);
      this.tenantLimiters.set(points, limiter);
    }
    return this.take(limiter, tenantId);
  }

  /** Takes one point for `key` (a client id or peer address) on `procedure`. */
  async consume(procedure: string, key: string): Promise<RateLimitDecision> {
    const limiter = this.limiters.get(procedure);
    if (!limiter) return { allowed: true };
    return this.take(limiter, key);
  }

  private async take(limiter: RateLimiterAbstract, key: string): Promise<RateLimitDecision> {
    try {
      await limiter.consume(key);
      return { allowed: true };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return { allowed: false, retryAfterMs: rejection.msBeforeNext };
      throw rejection;
    }
  }

  private createLimiter(procedure: string, points: number, keyPrefix = `${this.options.keyPrefix}:${procedure}`): RateLimiterAbstract {
    const limits = { points, duration: this.options.windowSeconds, keyPrefix };
    const { redis } = this.options;
    if (!redis) return new RateLimiterMemory(limits);
    const insurance = new RateLimiterMemory(limits);
    // The insurance is consulted only when a Redis call failed: count and report those moments.
    const consume = insurance.consume.bind(insurance);
    insurance.consume = (...args) => {
      this.recordFallback(procedure);
      return consume(...args);
    };
    // A key refused once stays refused in memory until its window ends (inMemoryBlockOnConsumed):
    // the counter only grows within a window, so asking Redis again could only say no again.
    return new RateLimiterRedis({
      ...limits,
      storeClient: redis,
      rejectIfRedisNotReady: true,
      insuranceLimiter: insurance,
      inMemoryBlockOnConsumed: points + 1,
    });
  }

  private recordFallback(procedure: string): void {
    this.options.fallbacks.add(1, { "rpc.method": procedure });
    const now = Date.now();
    if (now - this.lastFallbackLog < FALLBACK_LOG_INTERVAL_MS) return;
    this.lastFallbackLog = now;
    this.options.logger.warn({ procedure }, "Redis unavailable or slow: rate limit decided in memory for this instance");
  }
}
