/**
 * One attempt of one job, shared by both queue implementations so that "same semantics" is one
 * piece of code: payload check, hooks, timeout, cancellation and the retry decision live here; the
 * implementations only move jobs.
 */
import {
  HandBackError,
  JobCancelledError,
  JobShutdownError,
  JobTimeoutError,
  RetryableError,
  type JobContext,
  type JobHandler,
  type JobHooks,
} from "./job-queue.js";
import { backoffDelayMs, validateJobPayload, type BackoffSpec } from "./job-spec.js";
import type { QueueLogger } from "./logger.js";

/** How an attempt ended, and therefore what the queue must do with the job. */
export type AttemptOutcome =
  | { readonly kind: "success"; readonly result: unknown }
  /** Run again after `delayMs` (onRetry has been called). */
  | { readonly kind: "retry"; readonly error: Error; readonly delayMs: number }
  /** Failed for good (onFailure has been called). */
  | { readonly kind: "failure"; readonly error: Error }
  /** The handler gave the job back: wait `delayMs`, then again, same attempt (onHandBack called). */
  | { readonly kind: "handBack"; readonly error: Error; readonly delayMs: number }
  /** The consumer was force-closed: no hook ran, the job is left to recovery. */
  | { readonly kind: "shutdown"; readonly error: Error };

/** Everything {@link runAttempt} needs; `controller` is owned by the caller so it can abort. */
export interface AttemptInput {
  readonly id: string;
  readonly name: string;
  readonly queue: string;
  readonly rawPayload: unknown;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly recovered: boolean;
  readonly timeoutMs: number;
  readonly backoff: BackoffSpec;
  readonly handler: JobHandler | undefined;
  readonly hooks: JobHooks | undefined;
  readonly logger: QueueLogger;
  /** Aborted by the queue with a {@link JobCancelledError} or {@link JobShutdownError} reason. */
  readonly controller: AbortController;
}

/** Calls a hook, awaits it, and logs instead of throwing: a broken observer must not fail a job. */
export async function callHook(
  logger: QueueLogger,
  hook: string,
  jobId: string,
  fn: () => Promise<void> | void,
): Promise<void> {
  try {
    await fn();
  } catch (err) {
    logger.error({ err, jobId, hook }, `queue hook ${hook} failed`);
  }
}

/** Turns anything thrown into an Error, so hooks and BullMQ always get a message. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(
    typeof value === "string" ? value : `non-error thrown: ${JSON.stringify(value)}`,
  );
}

/** `instanceof` fails across module copies (a child process, a second bundle); the name does not. */
function isRetryable(err: Error): boolean {
  return err instanceof RetryableError || err.name === "RetryableError";
}

/**
 * Runs one attempt: validates the payload, calls `onStart`, races the handler against the timeout
 * and the controller, then calls exactly one of `onSuccess` / `onRetry` / `onFailure` (none on
 * shutdown). Never throws; the outcome says what happened.
 */
export async function runAttempt(input: AttemptInput): Promise<AttemptOutcome> {
  const { controller, hooks, logger } = input;
  const signal = controller.signal;
  const base = {
    id: input.id,
    name: input.name,
    queue: input.queue,
    attempt: input.attempt,
    maxAttempts: input.maxAttempts,
    recovered: input.recovered,
    signal,
  };

  const fail = async (ctx: JobContext, error: Error): Promise<AttemptOutcome> => {
    if (error instanceof JobShutdownError) return { kind: "shutdown", error };
    await callHook(logger, "onFailure", input.id, () => hooks?.onFailure?.(ctx, error));
    return { kind: "failure", error };
  };

  // A bad payload can come from an old producer or a hand-edited Redis key; it will never get
  // better, so it fails at once (the context then carries the raw payload).
  let payload: unknown;
  try {
    payload = validateJobPayload(input.name, input.rawPayload);
  } catch (err) {
    return fail({ ...base, payload: input.rawPayload } as JobContext, toError(err));
  }
  const ctx = { ...base, payload } as JobContext;

  if (!input.handler) {
    return fail(ctx, new Error(`no handler for job ${input.name} in this consumer`));
  }
  // Cancelled between being picked and being started: the handler must not run at all.
  if (signal.aborted) return fail(ctx, abortError(signal));

  await callHook(logger, "onStart", input.id, () => hooks?.onStart?.(ctx));

  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(abortError(signal));
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    timer = setTimeout(
      () => controller.abort(new JobTimeoutError(input.timeoutMs)),
      input.timeoutMs,
    );
    const handler = input.handler;
    // new Promise() also catches a handler that throws synchronously.
    const running = new Promise<unknown>((resolve) => resolve(handler(ctx)));
    // The handler may ignore its signal and settle later; its late rejection must not go unhandled.
    running.catch(() => undefined);
    const result = await Promise.race([running, aborted]);
    clearTimeout(timer);
    await callHook(logger, "onSuccess", input.id, () => hooks?.onSuccess?.(ctx, result));
    return { kind: "success", result };
  } catch (thrown) {
    clearTimeout(timer);
    // Whatever the handler threw after its signal was aborted, the abort reason is the truth.
    const error = signal.aborted ? abortError(signal) : toError(thrown);
    if (error instanceof HandBackError || error.name === "HandBackError") {
      const delayMs = error instanceof HandBackError ? error.delayMs : 1000;
      await callHook(logger, "onHandBack", input.id, () => hooks?.onHandBack?.(ctx, error));
      return { kind: "handBack", error, delayMs };
    }
    if (isRetryable(error) && input.attempt < input.maxAttempts) {
      const delayMs = backoffDelayMs(input.backoff, input.attempt);
      await callHook(logger, "onRetry", input.id, () => hooks?.onRetry?.(ctx, error, delayMs));
      return { kind: "retry", error, delayMs };
    }
    return fail(ctx, error);
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

/** The error an aborted attempt ends with: the reason when it is one of ours, else a cancel. */
function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (
    reason instanceof JobTimeoutError ||
    reason instanceof JobCancelledError ||
    reason instanceof JobShutdownError
  ) {
    return reason;
  }
  return new JobCancelledError(typeof reason === "string" ? reason : "cancelled");
}
