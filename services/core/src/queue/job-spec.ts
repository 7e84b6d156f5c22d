/**
 * The queue's view of the job catalog in `@aetherium/types`: per-name defaults (timeout, retry)
 * merged with per-enqueue overrides, and payload validation with messages that name the field.
 */
import {
  jobCatalog,
  jobTimeoutMs,
  parseJobPayload,
  type JobName,
  type JobPayload,
} from "@aetherium/types";
import type { EnqueueOptions } from "./job-queue.js";

/** How long to wait before the next attempt. */
export interface BackoffSpec {
  readonly type: "fixed" | "exponential";
  readonly delayMs: number;
}

/** Everything the queue needs to know about one job, catalog defaults already applied. */
export interface ResolvedJobOptions {
  readonly priority: number;
  readonly delayMs: number;
  readonly attempts: number;
  readonly backoff: BackoffSpec;
  readonly timeoutMs: number;
}

/**
 * Validates a payload against the catalog. Throws the catalog's `InvalidJobPayloadError`, whose
 * message names the job and every bad field; an unknown job name fails the same way (a job read
 * back from Redis may carry anything).
 */
export function validateJobPayload(name: string, payload: unknown): unknown {
  return parseJobPayload(name as JobName, payload);
}

/** Merges enqueue options over the catalog entry of `name` (and payload), checking ranges. */
export function resolveJobOptions<N extends JobName>(
  name: N,
  payload: JobPayload<N>,
  options: EnqueueOptions,
): ResolvedJobOptions {
  const spec = jobCatalog[name];
  const priority = options.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > 100) {
    throw new RangeError(`priority must be an integer in 0..100, got ${priority}`);
  }
  const delayMs = options.delayMs ?? 0;
  if (!(delayMs >= 0)) throw new RangeError(`delayMs must be >= 0, got ${delayMs}`);
  const attempts = options.attempts ?? spec.retry.attempts;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(`attempts must be an integer >= 1, got ${attempts}`);
  }
  const timeoutMs = options.timeoutMs ?? jobTimeoutMs(name, payload);
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`);
  const backoff = options.backoff ?? spec.retry.backoff;
  return { priority, delayMs, attempts, backoff, timeoutMs };
}

/**
 * The wait after failed attempt `attempt` (1-based). Exponential doubles from `delayMs`
 * (delayMs, 2·delayMs, 4·delayMs…), which is exactly BullMQ's formula, so the delay reported to
 * `onRetry` is the one BullMQ applies.
 */
export function backoffDelayMs(backoff: BackoffSpec, attempt: number): number {
  if (backoff.type === "fixed") return backoff.delayMs;
  return Math.round(2 ** (attempt - 1) * backoff.delayMs);
}
