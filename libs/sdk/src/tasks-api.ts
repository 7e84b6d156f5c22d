import {
  isTerminalTaskStatus,
  pageSchema,
  taskResponseSchema,
  taskSchema,
  type Page,
  type Task,
  type TaskStatus,
  type TaskType,
} from "@aetherium/types";
import { TimeoutError } from "./errors.js";
import { listParam, pageQuery, type ListOptions } from "./list-options.js";
import { sleep } from "./timing.js";
import { seg, type Transport } from "./transport.js";

/** Filters of `client.tasks.list()`. */
export interface ListTasksOptions extends ListOptions {
  /** Only tasks in one of these statuses. */
  readonly status?: TaskStatus | readonly TaskStatus[];
  /** Only tasks of these types. */
  readonly type?: TaskType | readonly TaskType[];
  /** Only tasks of this sandbox. */
  readonly vmId?: string;
  /** Only tasks run by this worker. */
  readonly workerId?: string;
}

/** Options of `client.tasks.wait()`. */
export interface WaitTaskOptions {
  /** Give up with `TimeoutError` after this many ms (default 120 000). */
  readonly timeoutMs?: number;
  /** Poll interval in ms (default 250). */
  readonly intervalMs?: number;
  /** Cancels the wait. */
  readonly signal?: AbortSignal;
}

/** `client.tasks`: durable control-plane tasks. */
export class TasksApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** Task `id`. */
  async get(id: string, options: { signal?: AbortSignal } = {}): Promise<Task> {
    const body = await this.#t.requestChecked(taskResponseSchema, "GET", `/tasks/${seg(id)}`, {
      signal: options.signal,
    });
    return body.task;
  }

  /** One page of tasks, newest first. */
  list(options: ListTasksOptions = {}): Promise<Page<Task>> {
    return this.#t.requestChecked(pageSchema(taskSchema), "GET", "/tasks", {
      query: {
        ...pageQuery(options),
        status: listParam(options.status),
        type: listParam(options.type),
        vmId: options.vmId,
        workerId: options.workerId,
      },
      signal: options.signal,
    });
  }

  /** Cancels a task that has not finished; a finished one gives `ConflictError`. */
  async cancel(id: string, options: { signal?: AbortSignal } = {}): Promise<Task> {
    const body = await this.#t.requestChecked(
      taskResponseSchema,
      "POST",
      `/tasks/${seg(id)}/cancel`,
      { signal: options.signal },
    );
    return body.task;
  }

  /**
   * Resolves with the task once it has finished (`succeeded`, `failed` or `cancelled`; check
   * `status`); throws {@link TimeoutError} when `timeoutMs` runs out first.
   */
  async wait(id: string, options: WaitTaskOptions = {}): Promise<Task> {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = await this.get(id, { signal: options.signal });
      if (isTerminalTaskStatus(task.status)) return task;
      if (Date.now() >= deadline) {
        throw new TimeoutError(
          `task ${id} (${task.type}) is still ${task.status} after ${timeoutMs} ms`,
          timeoutMs,
        );
      }
      const wait = Math.min(options.intervalMs ?? 250, Math.max(0, deadline - Date.now()));
      await sleep(wait, options.signal);
    }
  }
}
