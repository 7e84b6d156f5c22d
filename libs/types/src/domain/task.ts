import { z } from "zod";
import { taskIdSchema, vmIdSchema, workerIdSchema } from "./ids.js";
import { timestampSchema } from "./primitives.js";
import {
  assertTransition,
  canTransition,
  terminalStatuses,
  type TransitionTable,
} from "./state-machine.js";

/**
 * Kinds of durable task; each is one job of the job catalog (`@aetherium/types` `jobCatalog`),
 * which is checked to have exactly these names.
 */
export const taskTypeSchema = z.enum(
  [
    "vm:create",
    "vm:start",
    "vm:stop",
    "vm:pause",
    "vm:resume",
    "vm:delete",
    "vm:execute",
    "workspace:create",
    "workspace:delete",
    "prompt:execute",
  ],
  {
    error:
      "must be a task type (vm:create, vm:start, vm:stop, vm:pause, vm:resume, vm:delete, vm:execute, workspace:create, workspace:delete, prompt:execute)",
  },
);

/** A task type. */
export type TaskType = z.infer<typeof taskTypeSchema>;

/**
 * Lifecycle of a task: `pending` (recorded) → `queued` (on a queue) → `running` (a worker holds it)
 * → `succeeded` | `failed` | `cancelled`. A command that exits non-zero is `succeeded`: its exit
 * code is in `result`.
 */
export const taskStatusSchema = z.enum(
  ["pending", "queued", "running", "succeeded", "failed", "cancelled"],
  {
    error: "must be a task status (pending, queued, running, succeeded, failed, cancelled)",
  },
);

/** A task status. */
export type TaskStatus = z.infer<typeof taskStatusSchema>;

/**
 * Allowed task status transitions. `running → queued` is a retry after an infrastructure error
 * (attempts left); `pending → failed` covers a failure to enqueue. Finished statuses are terminal:
 * a retry never revives a failed task.
 */
export const TASK_STATUS_TRANSITIONS = {
  pending: ["queued", "failed", "cancelled"],
  queued: ["running", "failed", "cancelled"],
  running: ["succeeded", "failed", "cancelled", "queued"],
  succeeded: [],
  failed: [],
  cancelled: [],
} as const satisfies TransitionTable<TaskStatus>;

/** True when a task may move from `from` to `to` (see {@link TASK_STATUS_TRANSITIONS}). */
export function canTransitionTask(from: TaskStatus, to: TaskStatus): boolean {
  return canTransition<TaskStatus>(TASK_STATUS_TRANSITIONS, from, to);
}

/** Throws an `IllegalTransitionError` unless a task may move from `from` to `to`. */
export function assertTaskTransition(from: TaskStatus, to: TaskStatus): void {
  assertTransition<TaskStatus>("task", TASK_STATUS_TRANSITIONS, from, to);
}

/** Statuses a task never leaves: `succeeded`, `failed`, `cancelled`. */
export const TASK_TERMINAL_STATUSES: readonly TaskStatus[] =
  terminalStatuses<TaskStatus>(TASK_STATUS_TRANSITIONS);

/** True when the task has finished (and so can no longer be cancelled). */
export function isTerminalTaskStatus(status: TaskStatus): boolean {
  return TASK_TERMINAL_STATUSES.includes(status);
}

/**
 * A durable control-plane task, as `GET /api/v1/tasks/{id}` returns it.
 *
 * `attempts` counts runs started so far, `maxAttempts` the most there will be (only infrastructure
 * errors are retried). `payload` is the job payload; environment variable values in it are masked
 * by the API like a sandbox's `env`. `result` is the job's result once `succeeded`; `error` the
 * last failure's message.
 */
export const taskSchema = z.object({
  id: taskIdSchema,
  type: taskTypeSchema,
  status: taskStatusSchema,
  vmId: vmIdSchema.nullish(),
  workerId: workerIdSchema.nullish(),
  attempts: z.number().int().nonnegative(),
  maxAttempts: z.number().int().positive(),
  payload: z.record(z.string(), z.unknown()),
  result: z.unknown().nullable(),
  error: z.string().nullable(),
  createdAt: timestampSchema,
  startedAt: timestampSchema.nullable(),
  completedAt: timestampSchema.nullable(),
});

/** A task (see {@link taskSchema}). */
export type Task = z.infer<typeof taskSchema>;
