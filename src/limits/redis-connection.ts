/**
 * The Redis connection behind shared rate limits. It is tuned to fail fast rather than queue:
 * while Redis is away or slow, commands error at once (or after a short timeout) so the limiter's
 * in-memory insurance answers instead of requests waiting on Redis. ioredis keeps reconnecting in
 * the background; the first successful `ready` puts Redis back in charge.
 */
import { Redis } from "ioredis";
import { redactUrl, type Logger } from "../telemetry/logger.js";

/** A Redis command slower than this counts as Redis being unavailable. */
const COMMAND_TIMEOUT_MS = 200;

/** Opens the connection in the background; start-up does not wait for Redis. */
export function connectRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    // Commands issued in the same tick (the limits of requests that arrived together) leave in
    // one write and come back in one read.
    enableAutoPipelining: true,
    // Back off up to 2 s between attempts, forever: the service keeps working without Redis.
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  });
  const where = redactUrl(url);
  let available = false;
  redis.on("ready", () => {
    available = true;
    logger.info({ redis: where }, "Redis connected: rate limits are shared across instances");
  });
  // ioredis reports every failed reconnect; one line per outage is enough.
  redis.on("error", (error: Error) => {
    if (!available) return logger.debug({ redis: where, err: error.message }, "Redis still unavailable");
  });
  redis.on("close", () => {
    if (!available) return;
    available = false;
    logger.warn({ redis: where }, "Redis connection lost: rate limits fall back to per-instance memory");
  });
  return redis;
}
