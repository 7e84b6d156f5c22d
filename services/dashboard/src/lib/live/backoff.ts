/** Reconnect delays for the live event stream. @module */

export interface BackoffOptions {
  /** First delay, ms. */
  readonly baseMs?: number;
  /** Longest delay, ms. */
  readonly maxMs?: number;
  /** A number in [0, 1); `Math.random` by default. Jitter spreads reconnects of many tabs. */
  readonly random?: () => number;
}

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential from `baseMs` (500 ms), capped at
 * `maxMs` (15 s), with "equal jitter": half fixed, half random, so it never collapses to zero.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 500;
  const max = options.maxMs ?? 15_000;
  const random = options.random ?? Math.random;
  const exp = Math.min(max, base * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.round(exp / 2 + (exp / 2) * random());
}
