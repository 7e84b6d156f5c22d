/**
 * Sleeping, deadlines and reconnect backoff.
 * @module
 */
import { AbortError } from "./errors.js";

/** Resolves after `ms`, or rejects with {@link AbortError} as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** How a reconnecting stream backs off: exponential from `initialMs` to `maxMs`, with jitter. */
export interface BackoffOptions {
  /** First delay after a drop, in ms (default 500). */
  readonly initialMs?: number;
  /** Longest delay, in ms (default 30 000). */
  readonly maxMs?: number;
  /** Growth per failed attempt (default 2). */
  readonly factor?: number;
  /**
   * Fraction of the delay drawn at random, 0–1 (default 0.2), so that many clients dropped by one
   * gateway restart do not all reconnect in the same instant.
   */
  readonly jitter?: number;
}

/**
 * Delay before reconnect attempt number `attempt` (0 = the first after a drop). `random` is
 * injectable so tests can check the bounds exactly.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const factor = options.factor ?? 2;
  const jitter = Math.min(Math.max(options.jitter ?? 0.2, 0), 1);
  const base = Math.min(max, initial * factor ** Math.max(0, attempt));
  // Jitter only shortens the delay, so `maxMs` stays a true upper bound.
  return Math.round(base * (1 - jitter * random()));
}
