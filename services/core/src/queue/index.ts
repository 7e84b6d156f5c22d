/**
 * The job queue: one contract ({@link JobQueue}), two implementations with the same semantics —
 * {@link BullmqJobQueue} on Redis for the distributed deployment, {@link InProcessJobQueue} in
 * memory for embedded mode. The `tasks` table is the durable record; the queue only moves jobs.
 *
 * @example
 * ```ts
 * const queue = new BullmqJobQueue({ connection: "redis://127.0.0.1:6379", prefix: "aet" });
 * queue.consume("worker:w1", { "vm:stop": async (ctx) => stopVm(ctx.payload.vmId, ctx.signal) }, {
 *   concurrency: 4,
 *   hooks: { onSuccess: (ctx, result) => tasks.complete(ctx.id, result) },
 * });
 * await queue.enqueue("vm:stop", { taskId, vmId }, { jobId: taskId, queue: "worker:w1" });
 * ```
 *
 * The contract suite (`queue-contract.ts`) is deliberately not exported here: it imports vitest.
 * @module
 */

/** The contract: what a queue guarantees, what handlers and hooks receive, and its errors. */
export {
  JobCancelledError,
  JobShutdownError,
  JobTimeoutError,
  HandBackError,
  RetryableError,
  type CancelOutcome,
  type ConsumeOptions,
  type Consumer,
  type EnqueueOptions,
  type JobContext,
  type JobHandler,
  type JobHandlers,
  type JobHooks,
  type JobQueue,
  type QueueCounts,
  type QueueName,
} from "./job-queue.js";

/** The distributed implementation on BullMQ and Redis. */
export { BullmqJobQueue, type BullmqJobQueueOptions } from "./bullmq-queue.js";

/** The embedded implementation, in memory. */
export { InProcessJobQueue, type InProcessJobQueueOptions } from "./in-process-queue.js";

/** The logger shape both implementations accept (a pino logger fits). */
export type { QueueLogger } from "./logger.js";

/** The backoff rule both implementations apply, for callers that display "next attempt at". */
export { backoffDelayMs, type BackoffSpec } from "./job-spec.js";
