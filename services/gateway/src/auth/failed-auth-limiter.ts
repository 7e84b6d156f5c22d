import type { Logger } from "@aetherium/common";
import type { Redis } from "ioredis";

/** How {@link FailedAuthLimiter} counts. */
export interface FailedAuthLimiterOptions {
  /** Wrong keys one address may present per window before it is refused; 0 turns this off. */
  readonly max: number;
  readonly windowMs: number;
  /** Shares the counts across gateways; in-memory per process without it. */
  readonly redis?: Redis;
  readonly keyPrefix?: string;
  readonly logger: Logger;
}

// One round trip each. The window starts at an address's first failure (fixed window).
const RECORD = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;
const CHECK = `local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return redis.call('PTTL', KEYS[1]) end
return 0`;

/**
 * Counts wrong API keys per client address, so guessing keys costs the guesser a 429 instead of
 * costing the database a lookup per guess. Shared through Redis when given one (every gateway
 * sees the same count), in memory per process otherwise. A Redis that cannot be reached lets
 * requests through: keys are 256 random bits, so the limit protects the database, not the keys.
 */
export class FailedAuthLimiter {
  readonly #local = new Map<string, { count: number; resetAt: number }>();
  // Addresses known to be over the limit, so an ongoing flood does not even cost a Redis call.
  readonly #blockedUntil = new Map<string, number>();
  #warned = false;

  constructor(private readonly options: FailedAuthLimiterOptions) {}

  /** Milliseconds until `address` may try again (0: it may now). */
  async blockedForMs(address: string): Promise<number> {
    if (this.options.max <= 0) return 0;
    const now = Date.now();
    const until = this.#blockedUntil.get(address);
    if (until !== undefined) {
      if (until > now) return until - now;
      this.#blockedUntil.delete(address);
    }
    let ms = 0;
    const redis = this.options.redis;
    if (redis) {
      try {
        ms = Number(await redis.eval(CHECK, 1, this.#key(address), this.options.max));
      } catch (err) {
        this.#warn(err);
      }
    } else {
      const entry = this.#local.get(address);
      if (entry && entry.resetAt > now && entry.count >= this.options.max) ms = entry.resetAt - now;
    }
    if (ms > 0) this.#remember(this.#blockedUntil, address, now + ms);
    return ms;
  }

  /** Counts one wrong key presented from `address`. */
  async recordFailure(address: string): Promise<void> {
    if (this.options.max <= 0) return;
    const redis = this.options.redis;
    if (redis) {
      try {
        await redis.eval(RECORD, 1, this.#key(address), this.options.windowMs);
      } catch (err) {
        this.#warn(err);
      }
      return;
    }
    const now = Date.now();
    const entry = this.#local.get(address);
    if (entry && entry.resetAt > now) entry.count += 1;
    else this.#remember(this.#local, address, { count: 1, resetAt: now + this.options.windowMs });
  }

  #key(address: string): string {
    return `${this.options.keyPrefix ?? "aetherium:"}authfail:${address}`;
  }

  // Bounded: a flood from many addresses clears the table rather than growing it without end.
  #remember<V>(map: Map<string, V>, address: string, value: V): void {
    if (map.size > 100_000) map.clear();
    map.set(address, value);
  }

  #warn(err: unknown): void {
    if (this.#warned) return;
    this.#warned = true;
    this.options.logger.warn({ err }, "failed-authentication limit unavailable (Redis)");
  }
}
