/**
 * The queue contract. Two implementations honour it with the same semantics: BullMQ on Redis
 * (distributed) and an in-process queue (embedded, `npm start`). The contract suite in
 * `queue-contract.ts` runs against both, so "same semantics" is checked, not promised.
 *
 * What the queue guarantees:
 * - A job is identified by its `jobId` (the task id). Enqueueing an id that is already waiting,
 *   delayed or active is a no-op, so a retried API call cannot start a second job. (BullMQ also
 *   keeps finished jobs for a bounded while, and re-enqueueing one of those is a no-op too: ids
 *   are not meant to be reused.)
 * - Among waiting jobs of one queue, higher `priority` runs first; equal priority runs FIFO.
 * - `delayMs` holds a job back at least that long.
 * - A handler gets `timeoutMs` (from the job catalog unless overridden); past it, its signal is
 *   aborted and the attempt fails with {@link JobTimeoutError}.
 * - Only {@link RetryableError} (an infrastructure failure: engine unreachable, lock lost…) is
 *   retried, with the catalog's backoff, up to `attempts`. Any other throw fails the job at once.
 *   A command that exits non-zero is not an error at all: handlers return it as a result.
 * - `cancel(jobId)` removes a job that has not started, or aborts the signal of a running one
 *   (wherever it runs); the attempt then ends with {@link JobCancelledError} and is not retried.
 * - Per-consumer `concurrency` bounds how many handlers run at once in that process.
 * - A job whose worker died mid-run is handed to another consumer (`recovered: true`), at most
 *   once; handlers of jobs that are not idempotent must check `recovered` and fail instead of
 *   re-running a side effect.
 *
 * What it deliberately does not do: persist results (the `tasks` table is the record; hooks
 * write it), or route (callers pick the queue name; see `routing.ts`).
 */
import type { JobName, JobPayload } from "@aetherium/types";

/** A queue name: `create.<backend>[.<zone>]` (shared, any matching worker) or `worker.<id>` (one worker); BullMQ forbids `:` in queue names. */
export type QueueName = string;

/** How one job is enqueued. Unset fields take the job catalog's values. */
export interface EnqueueOptions {
  /** Stable id, normally the task id. */
  readonly jobId: string;
  /** The queue to put the job on; see `routing.ts`. */
  readonly queue: QueueName;
  /** Larger runs sooner; 0 by default. Range 0..100. */
  readonly priority?: number;
  /** Hold the job back at least this long before it may run. */
  readonly delayMs?: number;
  /** Runs in total, the first included (1 = never retried). */
  readonly attempts?: number;
  /** Wait before attempt n+1: `delayMs` (fixed) or `delayMs·2^(n-1)` (exponential). */
  readonly backoff?: { readonly type: "fixed" | "exponential"; readonly delayMs: number };
  /** Limit of one attempt; past it the signal aborts and the job fails with {@link JobTimeoutError}. */
  readonly timeoutMs?: number;
}

/** What a handler receives for one attempt. */
export interface JobContext<N extends JobName = JobName> {
  /** The job id given at enqueue (the task id). */
  readonly id: string;
  /** The job name, which picked the handler. */
  readonly name: N;
  /** The queue it was taken from. */
  readonly queue: QueueName;
  /** The payload, validated against the job catalog before the handler runs. */
  readonly payload: JobPayload<N>;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** The job's `attempts`; `attempt === maxAttempts` means no retry will follow. */
  readonly maxAttempts: number;
  /** True when an earlier attempt was cut off by a dead worker (not by a thrown error). */
  readonly recovered: boolean;
  /** Aborted on timeout, cancellation or shutdown; pass it to everything that can wait. */
  readonly signal: AbortSignal;
}

/** Runs one attempt; the returned value becomes the task result. */
export type JobHandler<N extends JobName = JobName> = (ctx: JobContext<N>) => Promise<unknown>;

/**
 * Handlers by job name; a consumer only takes jobs it has a handler for (BullMQ cannot filter by
 * name, so there a job without a handler here is handed back, delayed by a second, for a consumer
 * that has one).
 */
export type JobHandlers = { readonly [N in JobName]?: JobHandler<N> };

/** Observers of a job's life, used to keep the `tasks` row and the event bus truthful. */
export interface JobHooks {
  /** The handler is about to run (every attempt). Hooks are awaited; a throwing hook is logged. */
  onStart?(ctx: JobContext): Promise<void> | void;
  /** The handler returned `result` (whatever it is, exit codes included). */
  onSuccess?(ctx: JobContext, result: unknown): Promise<void> | void;
  /** The attempt failed and another will follow after `delayMs`. */
  onRetry?(ctx: JobContext, error: Error, delayMs: number): Promise<void> | void;
  /** The job failed for good (including timeouts and cancellations). */
  onFailure?(ctx: JobContext, error: Error): Promise<void> | void;
  /** The handler handed the job back ({@link HandBackError}); it waits again, same attempt. */
  onHandBack?(ctx: JobContext, error: Error): Promise<void> | void;
}

/** Options of one consumer. */
export interface ConsumeOptions {
  /** Most handlers of this consumer running at once (≥ 1). */
  readonly concurrency: number;
  /** Observers of every job this consumer runs. */
  readonly hooks?: JobHooks;
}

/** A running consumer of one queue in this process. */
export interface Consumer {
  /** Stops taking jobs; running ones go on. */
  pause(): Promise<void>;
  /** Takes jobs again after {@link Consumer.pause}. */
  resume(): void;
  /** Stops taking jobs and waits for running ones (or, with `force`, aborts them). */
  close(force?: boolean): Promise<void>;
}

/** Job counts of one queue. */
export interface QueueCounts {
  /** Ready to run, in priority order. */
  readonly waiting: number;
  /** Running now, in any process. */
  readonly active: number;
  /** Held back by `delayMs` or by a retry's backoff. */
  readonly delayed: number;
}

/** The outcome of {@link JobQueue.cancel}. */
export type CancelOutcome = "removed" | "signalled" | "not_found";

/** The queue contract; see the module comment for the guarantees. */
export interface JobQueue {
  /** Validates the payload (rejecting with a message naming the bad field) and adds the job. */
  enqueue<N extends JobName>(
    name: N,
    payload: JobPayload<N>,
    options: EnqueueOptions,
  ): Promise<void>;
  /** Removes a job not yet started, or aborts the signal of a running one (in any process). */
  cancel(jobId: string, queue: QueueName): Promise<CancelOutcome>;
  /** Starts taking jobs of `queue` in this process. */
  consume(queue: QueueName, handlers: JobHandlers, options: ConsumeOptions): Consumer;
  /** How many jobs of `queue` wait, run and are held back. */
  counts(queue: QueueName): Promise<QueueCounts>;
  /**
   * Checks that jobs can be enqueued now (for a network queue: a round trip to its server);
   * rejects with the reason otherwise. Optional: an in-process queue is always reachable.
   */
  ping?(): Promise<void>;
  /** Closes every consumer and connection this queue opened. */
  close(): Promise<void>;
}

/** An infrastructure failure worth another attempt (engine unreachable, lost connection…). */
export class RetryableError extends Error {
  override readonly name = "RetryableError";
}

/**
 * The consumer cannot take this job now (its worker has no room for it): the job goes back to
 * waiting after `delayMs`, for any consumer of its queue, and the attempt does not count. Not a
 * failure: no retry or failure hook runs, only `onHandBack`.
 */
export class HandBackError extends Error {
  override readonly name = "HandBackError";
  /**
   * @param message - why the job was handed back
   * @param delayMs - how long it waits before a consumer may take it again
   */
  constructor(
    message: string,
    readonly delayMs = 1000,
  ) {
    super(message);
  }
}

/** The attempt ran past its `timeoutMs`. Not retried. */
export class JobTimeoutError extends Error {
  override readonly name = "JobTimeoutError";
  /** @param timeoutMs - the limit the attempt exceeded */
  constructor(readonly timeoutMs: number) {
    super(`job timed out after ${timeoutMs} ms`);
  }
}

/** The job was cancelled while it ran. Not retried. */
export class JobCancelledError extends Error {
  override readonly name = "JobCancelledError";
  /** @param reason - why, as given to `cancel` or by the worker */
  constructor(reason = "cancelled") {
    super(reason);
  }
}

/**
 * The consumer was force-closed while the attempt ran (process shutdown). The signal is aborted
 * with this reason, no hook is called and the job is left to recovery (a BullMQ job stalls and
 * another worker takes it with `recovered: true`).
 */
export class JobShutdownError extends Error {
  override readonly name = "JobShutdownError";
  constructor() {
    super("consumer closed while the job ran");
  }
}
