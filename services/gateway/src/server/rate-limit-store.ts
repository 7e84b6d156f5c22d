import type { Logger } from "@aetherium/common";
import type { Redis } from "ioredis";

/** One key's count in the current window, as `@fastify/rate-limit` expects it. */
export interface RateLimitCount {
  readonly current: number;
  /** Milliseconds until the window ends. */
  readonly ttl: number;
}

type Callback = (error: Error | null, result?: RateLimitCount) => void;

/** How long the store stays on per-process counts after a Redis failure before trying again. */
const RETRY_REDIS_AFTER_MS = 5000;
/** Keys the per-process fallback keeps at most; the oldest go first. */
const MAX_LOCAL_KEYS = 10_000;

// Counts one hit and returns [count, ms left in the window]; the window starts at the first hit.
const INCR_SCRIPT = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return {current, tonumber(ARGV[1])}
end
return {current, redis.call('PTTL', KEYS[1])}
`;

/** The client once {@link INCR_SCRIPT} is defined on it. */
interface CountingRedis {
  aetheriumRateLimit(key: string, timeWindowMs: number): Promise<[number, number]>;
}

/** Fixed-window counters in this process: the fallback while Redis is unreachable. */
class LocalCounters {
  readonly #windows = new Map<string, { count: number; endsAt: number }>();

  incr(key: string, timeWindowMs: number): RateLimitCount {
    const now = Date.now();
    let w = this.#windows.get(key);
    if (!w || w.endsAt <= now) {
      this.#windows.delete(key);
      if (this.#windows.size >= MAX_LOCAL_KEYS) {
        const oldest = this.#windows.keys().next();
        if (!oldest.done) this.#windows.delete(oldest.value);
      }
      w = { count: 0, endsAt: now + timeWindowMs };
      this.#windows.set(key, w);
    }
    w.count++;
    return { current: w.count, ttl: w.endsAt - now };
  }
}

/** State shared by a store and the per-route children `@fastify/rate-limit` makes of it. */
interface SharedState {
  readonly redis: Redis;
  readonly local: LocalCounters;
  readonly logger: Logger;
  /** Redis failed: counts stay local until this time. */
  retryAt: number;
  /** True from the first failure of an outage until Redis answers again (logs once each way). */
  degraded: boolean;
  /** One request at a time tries Redis again after an outage; the others count locally. */
  probing: boolean;
}

/**
 * A `@fastify/rate-limit` store that counts in Redis (shared by every gateway) and, while Redis
 * is down or not answering, counts in this process instead. Rate limiting must never be the
 * reason a request fails: with Redis stopped or frozen, reads that need no Redis keep working,
 * each gateway still enforcing the limit on its own. The switch is logged once per outage.
 */
export class ResilientRateLimitStore {
  readonly #state: SharedState;
  readonly #prefix: string;

  /** Counts under `prefix` in `redis`; give the client a short `commandTimeout`. */
  constructor(redis: Redis, logger: Logger, prefix: string, state?: SharedState) {
    this.#prefix = prefix;
    this.#state = state ?? {
      redis,
      local: new LocalCounters(),
      logger,
      retryAt: 0,
      degraded: false,
      probing: false,
    };
    if (!(redis as Partial<CountingRedis>).aetheriumRateLimit) {
      redis.defineCommand("aetheriumRateLimit", { numberOfKeys: 1, lua: INCR_SCRIPT });
    }
  }

  /** Counts one request of `key`; `@fastify/rate-limit` calls it with the window and limit. */
  incr(key: string, callback: Callback, timeWindow = 60_000): void {
    const s = this.#state;
    const fullKey = this.#prefix + key;
    const local = () => callback(null, s.local.incr(fullKey, timeWindow));
    // While disconnected ioredis would queue the command; counting locally answers at once.
    // A first connection still being made is no outage, so only a lost one is reported.
    if (s.redis.status !== "ready") {
      if (!["wait", "connecting", "connect"].includes(s.redis.status)) {
        this.#fail(new Error(`redis connection is ${s.redis.status}`));
      }
      local();
      return;
    }
    if (s.degraded && (Date.now() < s.retryAt || s.probing)) {
      local();
      return;
    }
    const probe = s.degraded;
    if (probe) s.probing = true;
    (s.redis as unknown as CountingRedis).aetheriumRateLimit(fullKey, timeWindow).then(
      ([current, ttl]) => {
        if (probe) s.probing = false;
        if (s.degraded) {
          s.degraded = false;
          s.logger.info("rate limiter counts in Redis again");
        }
        callback(null, { current, ttl: Math.max(0, ttl) });
      },
      (err: unknown) => {
        if (probe) s.probing = false;
        this.#fail(err);
        local();
      },
    );
  }

  /** A store for one route's own limit: same Redis and fallback, keys under the route. */
  child(routeOptions: object): ResilientRateLimitStore {
    // The plugin passes the route's merged limit options, the route itself under `routeInfo`.
    const route =
      (routeOptions as { routeInfo?: { method?: string | string[]; url?: string } }).routeInfo ??
      {};
    const method = Array.isArray(route.method) ? route.method.join(",") : (route.method ?? "");
    const prefix = `${this.#prefix}${method}${route.url ?? ""}-`;
    return new ResilientRateLimitStore(this.#state.redis, this.#state.logger, prefix, this.#state);
  }

  #fail(err: unknown): void {
    const s = this.#state;
    s.retryAt = Date.now() + RETRY_REDIS_AFTER_MS;
    if (s.degraded) return;
    s.degraded = true;
    s.logger.warn(
      { err },
      "rate limiter cannot reach Redis; counting per gateway process until it answers",
    );
  }
}

/** The store as the constructor `@fastify/rate-limit`'s `store` option wants, bound to `redis`. */
export function resilientRateLimitStore(
  redis: Redis,
  logger: Logger,
  prefix: string,
): new () => ResilientRateLimitStore {
  return class extends ResilientRateLimitStore {
    constructor() {
      super(redis, logger, prefix);
    }
  };
}
