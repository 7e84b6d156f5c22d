import { randomUUID } from "node:crypto";
import {
  ConflictError,
  NotFoundError,
  UnavailableError,
  type EventBus,
  type Logger,
} from "@aetherium/common";
import {
  createEvent,
  jobCatalog,
  type JobName,
  type JobPayload,
  type Task,
  type TaskStatus,
} from "@aetherium/types";
import type { JobQueue } from "../queue/job-queue.js";
import { queueForJob, type Placement } from "../routing/routing.js";
import { isUniqueViolation } from "../storage/errors.js";
import type { Page } from "../storage/cursor.js";
import type { Repositories } from "../storage/repositories/create-repositories.js";
import type { TaskRow } from "../storage/repositories/tasks.js";
import { toTask } from "./mappers.js";

/** Where and how a task's job is enqueued. */
export interface SubmitOptions {
  readonly vmId?: string | null;
  /** For jobs routed to the shared create queues. */
  readonly placement?: Placement;
  /** For jobs on an existing sandbox: the worker that owns it. */
  readonly ownerWorkerId?: string | null;
  readonly priority?: number;
  readonly delayMs?: number;
  /** A client's `Idempotency-Key`: the same key returns the task made the first time. */
  readonly idempotencyKey?: string;
  readonly tenant?: string;
}

/** Filters for {@link TaskService.list}. */
export interface TaskListFilter {
  readonly status?: TaskStatus | readonly TaskStatus[];
  readonly type?: string | readonly string[];
  readonly vmId?: string;
  readonly workerId?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

/** Payload of a job minus its `taskId`, which the service assigns. */
export type PayloadWithoutTaskId<N extends JobName> = Omit<JobPayload<N>, "taskId">;

/**
 * The one way work enters the system: a durable `tasks` row first, then the job. A row whose job
 * could not be enqueued is marked failed, so nothing sits `pending` forever and no job runs
 * without a record.
 */
export class TaskService {
  constructor(
    private readonly repos: Repositories,
    private readonly queue: JobQueue,
    private readonly bus: EventBus,
    private readonly logger?: Logger,
  ) {}

  /** Records and enqueues a job; returns the task (status `queued`). */
  async submit<N extends JobName>(
    name: N,
    payload: PayloadWithoutTaskId<N>,
    options: SubmitOptions = {},
  ): Promise<Task> {
    if (options.idempotencyKey) {
      const earlier = await this.repos.tasks.findByIdempotencyKey(
        options.idempotencyKey,
        options.tenant,
      );
      if (earlier) return this.#sameRequestOrConflict(earlier, name);
    }
    const definition = jobCatalog[name];
    const queue = queueForJob(name, options);
    // The id is chosen here because the payload carries it.
    const id = randomUUID();
    const fullPayload = { ...payload, taskId: id } as JobPayload<N>;
    let row: TaskRow;
    try {
      row = await this.repos.tasks.create({
        id,
        // Written as queued: the enqueue follows at once, and if it fails the row is marked
        // failed below. A separate pending→queued write would cost a round trip per task.
        status: "queued",
        type: name,
        tenant: options.tenant,
        queue,
        priority: options.priority ?? 0,
        vmId: options.vmId ?? null,
        maxAttempts: definition.retry.attempts,
        idempotencyKey: options.idempotencyKey ?? null,
        payload: fullPayload,
      });
    } catch (err) {
      if (options.idempotencyKey && isUniqueViolation(err)) {
        const winner = await this.repos.tasks.findByIdempotencyKey(
          options.idempotencyKey,
          options.tenant,
        );
        if (winner) return this.#sameRequestOrConflict(winner, name);
      }
      throw err;
    }
    // `task.created` carries status `queued`: the row is born queued (see above), so no separate
    // `task.queued` is sent here; that event marks a retry going back to the queue. It goes out
    // before the enqueue so no follower sees `task.started` first, and a bus that fails costs
    // only the notice: the row and its job are the truth and must not part.
    await this.#notify("task.created", row);
    try {
      await this.queue.enqueue(name, fullPayload, {
        jobId: row.id,
        queue,
        ...(options.priority !== undefined ? { priority: options.priority } : {}),
        ...(options.delayMs !== undefined ? { delayMs: options.delayMs } : {}),
      });
    } catch (err) {
      const failed = await this.repos.tasks.markFailed(
        row.id,
        `could not enqueue: ${(err as Error).message}`,
      );
      if (failed) await this.#notify("task.failed", failed);
      throw new UnavailableError(`the task queue is unavailable: ${(err as Error).message}`);
    }
    return toTask(row);
  }

  /** One task, or NotFoundError. */
  async get(id: string): Promise<Task> {
    const row = await this.repos.tasks.get(id);
    if (!row) throw new NotFoundError("task", id);
    return toTask(row);
  }

  /** Newest first, one page at a time. */
  async list(filter: TaskListFilter = {}): Promise<Page<Task>> {
    const page = await this.repos.tasks.list(filter);
    return { items: page.items.map(toTask), nextCursor: page.nextCursor };
  }

  /**
   * Cancels a task that has not finished: a queued job is removed at once; a running one is
   * signalled and ends `cancelled` when its handler stops. A finished task is a conflict.
   */
  async cancel(id: string): Promise<Task> {
    const requested = await this.repos.tasks.requestCancel(id);
    if (!requested) {
      const row = await this.repos.tasks.get(id);
      if (!row) throw new NotFoundError("task", id);
      throw new ConflictError(`task ${id} has already finished (${row.status})`);
    }
    const outcome = await this.queue.cancel(id, requested.queue);
    if (outcome !== "signalled" || requested.status !== "running") {
      const cancelled = await this.repos.tasks.markCancelled(id);
      if (cancelled) {
        await this.#publish("task.cancelled", cancelled);
        return toTask(cancelled);
      }
    }
    return toTask((await this.repos.tasks.get(id)) ?? requested);
  }

  #sameRequestOrConflict(row: TaskRow, name: JobName): Task {
    if (row.type !== name) {
      throw new ConflictError(
        `Idempotency-Key was already used for a different request (${row.type})`,
      );
    }
    return toTask(row);
  }

  async #publish(type: "task.created" | "task.failed" | "task.cancelled", row: TaskRow) {
    await this.bus.publish(createEvent(type, { task: toTask(row) }));
  }

  /** Publishes, logging a failure instead of throwing it (see {@link TaskService.submit}). */
  async #notify(type: "task.created" | "task.failed", row: TaskRow) {
    try {
      await this.#publish(type, row);
    } catch (err) {
      this.logger?.warn({ err, taskId: row.id, type }, "could not publish a task event");
    }
  }
}
