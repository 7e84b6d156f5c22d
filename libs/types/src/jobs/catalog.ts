import { z } from "zod";
import { commandSpecSchema } from "../api/executions.js";
import {
  executionIdSchema,
  promptIdSchema,
  taskIdSchema,
  vmIdSchema,
  workspaceIdSchema,
} from "../domain/ids.js";
import { taskTypeSchema, type TaskType } from "../domain/task.js";
import { formatZodError } from "../validation/format-issues.js";

/**
 * How a failed attempt is retried. `attempts` counts every run including the first (1 = never
 * retried). Only infrastructure errors are retried (worker or backend unreachable, agent not
 * answering); a handler signals "do not retry" for everything else, and a step that is not
 * idempotent gets `attempts: 1`.
 */
export const jobRetrySchema = z.object({
  attempts: z.number().int().min(1),
  backoff: z.object({
    type: z.enum(["exponential", "fixed"]),
    delayMs: z.number().int().nonnegative(),
  }),
});

/** A job's retry policy. */
export type JobRetry = z.infer<typeof jobRetrySchema>;

/**
 * Which queue a job goes to. `shared`: any worker with capacity takes it (creating things).
 * `owner`: the queue of the worker that holds the target sandbox, the only one able to act on it;
 * when the target has no sandbox yet (an idle workspace) the job goes to the shared queue.
 */
export const jobRoutingSchema = z.enum(["shared", "owner"]);

/** A job's routing. */
export type JobRouting = z.infer<typeof jobRoutingSchema>;

/** One entry of the job catalog. */
export interface JobDefinition<P extends z.ZodType = z.ZodType> {
  /** Schema of the job's payload; every payload has `taskId`. */
  payload: P;
  /** How long one attempt may run before it is failed (as an infrastructure error). */
  timeoutMs: number;
  /** Retry policy for infrastructure errors. */
  retry: JobRetry;
  /** Which queue the job goes to. */
  routing: JobRouting;
}

const MINUTE = 60_000;

/** Payload of `vm:create`: build and boot the sandbox recorded as `vmId` (its spec is in its row). */
export const vmCreateJobPayloadSchema = z.object({ taskId: taskIdSchema, vmId: vmIdSchema });

/** Payload of `vm:start`: start the stopped sandbox `vmId`. */
export const vmStartJobPayloadSchema = z.object({ taskId: taskIdSchema, vmId: vmIdSchema });

/** Payload of `vm:stop`: stop the sandbox `vmId`; `force` kills it instead of shutting it down. */
export const vmStopJobPayloadSchema = z.object({
  taskId: taskIdSchema,
  vmId: vmIdSchema,
  force: z.boolean().optional(),
});

/** Payload of `vm:pause`: freeze the running sandbox `vmId` in place. */
export const vmPauseJobPayloadSchema = z.object({ taskId: taskIdSchema, vmId: vmIdSchema });

/** Payload of `vm:resume`: thaw the paused sandbox `vmId`. */
export const vmResumeJobPayloadSchema = z.object({ taskId: taskIdSchema, vmId: vmIdSchema });

/** Payload of `vm:delete`: remove the sandbox `vmId` and everything it holds. */
export const vmDeleteJobPayloadSchema = z.object({ taskId: taskIdSchema, vmId: vmIdSchema });

/**
 * Payload of `vm:execute`: run `command` in `vmId`, recording it as `executionId`. `stdin` is UTF-8
 * text. Environment values travel in the payload; the API masks them when it shows the task.
 */
export const vmExecuteJobPayloadSchema = z.object({
  taskId: taskIdSchema,
  vmId: vmIdSchema,
  executionId: executionIdSchema,
  ...commandSpecSchema.shape,
  stdin: z.string().optional(),
});

/** Payload of `workspace:create`: make the sandbox of workspace `workspaceId`, install tools, run prep steps. */
export const workspaceCreateJobPayloadSchema = z.object({
  taskId: taskIdSchema,
  workspaceId: workspaceIdSchema,
});

/** Payload of `workspace:delete`: delete its sandbox `vmId` (null when it has none), then the workspace. */
export const workspaceDeleteJobPayloadSchema = z.object({
  taskId: taskIdSchema,
  workspaceId: workspaceIdSchema,
  vmId: vmIdSchema.nullable(),
});

/** Payload of `prompt:execute`: run prompt `promptId` in workspace `workspaceId` (spawning its sandbox if idle). */
export const promptExecuteJobPayloadSchema = z.object({
  taskId: taskIdSchema,
  workspaceId: workspaceIdSchema,
  promptId: promptIdSchema,
});

/**
 * The typed job catalog: every task type → payload schema, attempt timeout, retry policy and
 * routing. Gateway (enqueue) and workers (handlers) both read it, so a payload shape cannot drift.
 *
 * Retry rules: only infrastructure errors retry. A command or prompt that exits non-zero is a
 * *successful* job whose result carries the exit code; it is never re-run. That is why
 * `vm:execute` and `prompt:execute` have a single attempt: re-running user commands is not safe.
 * `vm:create` retries because its handler cleans up a half-made sandbox (found by its `vmId` label)
 * before trying again; deletes and stops are idempotent.
 */
export const jobCatalog = {
  "vm:create": {
    payload: vmCreateJobPayloadSchema,
    timeoutMs: 20 * MINUTE,
    retry: { attempts: 3, backoff: { type: "exponential", delayMs: 2_000 } },
    routing: "shared",
  },
  "vm:start": {
    payload: vmStartJobPayloadSchema,
    timeoutMs: 5 * MINUTE,
    retry: { attempts: 3, backoff: { type: "exponential", delayMs: 2_000 } },
    routing: "owner",
  },
  "vm:stop": {
    payload: vmStopJobPayloadSchema,
    timeoutMs: 2 * MINUTE,
    retry: { attempts: 3, backoff: { type: "exponential", delayMs: 1_000 } },
    routing: "owner",
  },
  "vm:pause": {
    payload: vmPauseJobPayloadSchema,
    timeoutMs: 2 * MINUTE,
    retry: { attempts: 3, backoff: { type: "exponential", delayMs: 1_000 } },
    routing: "owner",
  },
  "vm:resume": {
    payload: vmResumeJobPayloadSchema,
    timeoutMs: 2 * MINUTE,
    retry: { attempts: 3, backoff: { type: "exponential", delayMs: 1_000 } },
    routing: "owner",
  },
  "vm:delete": {
    payload: vmDeleteJobPayloadSchema,
    timeoutMs: 5 * MINUTE,
    retry: { attempts: 5, backoff: { type: "exponential", delayMs: 1_000 } },
    routing: "owner",
  },
  "vm:execute": {
    payload: vmExecuteJobPayloadSchema,
    // A ceiling for execs without their own timeoutMs; see jobTimeoutMs.
    timeoutMs: 60 * MINUTE,
    retry: { attempts: 1, backoff: { type: "fixed", delayMs: 0 } },
    routing: "owner",
  },
  "workspace:create": {
    payload: workspaceCreateJobPayloadSchema,
    timeoutMs: 30 * MINUTE,
    retry: { attempts: 2, backoff: { type: "exponential", delayMs: 5_000 } },
    routing: "shared",
  },
  "workspace:delete": {
    payload: workspaceDeleteJobPayloadSchema,
    timeoutMs: 5 * MINUTE,
    retry: { attempts: 5, backoff: { type: "exponential", delayMs: 1_000 } },
    routing: "owner",
  },
  "prompt:execute": {
    payload: promptExecuteJobPayloadSchema,
    timeoutMs: 60 * MINUTE,
    retry: { attempts: 1, backoff: { type: "fixed", delayMs: 0 } },
    routing: "owner",
  },
} as const satisfies { [N in TaskType]: JobDefinition };

/** A job name; the same strings as task types. */
export type JobName = keyof typeof jobCatalog;

/** Every job name. */
export const JOB_NAMES: readonly JobName[] = taskTypeSchema.options;

/** Schema of a job name. */
export const jobNameSchema = taskTypeSchema;

/** The payload type of job `N`. */
export type JobPayload<N extends JobName> = z.infer<(typeof jobCatalog)[N]["payload"]>;

/** The catalog entry of job `N`. */
export type JobDefinitionOf<N extends JobName> = (typeof jobCatalog)[N];

/** Thrown by {@link parseJobPayload}; its message names the job and every bad field. */
export class InvalidJobPayloadError extends Error {
  /** The job whose payload was rejected. */
  readonly job: string;

  /** Builds the error. */
  constructor(job: string, message: string) {
    super(message);
    this.name = "InvalidJobPayloadError";
    this.job = job;
  }
}

/** True when `name` is a job of the catalog. */
export function isJobName(name: string): name is JobName {
  return Object.hasOwn(jobCatalog, name);
}

/**
 * Validates `data` as the payload of job `name`. Throws {@link InvalidJobPayloadError} such as
 * `invalid payload for job "vm:delete": vmId: must be an id…` — a bad payload is a bug, never retried.
 */
export function parseJobPayload<N extends JobName>(name: N, data: unknown): JobPayload<N> {
  if (!isJobName(name))
    throw new InvalidJobPayloadError(String(name), `unknown job "${String(name)}"`);
  const schema: z.ZodType = jobCatalog[name].payload;
  const result = schema.safeParse(data);
  if (!result.success) {
    throw new InvalidJobPayloadError(
      name,
      `invalid payload for job "${name}": ${formatZodError(result.error)}`,
    );
  }
  return result.data as JobPayload<N>;
}

/** Grace added to an exec's own `timeoutMs` so the agent reports the timeout before the queue does. */
export const EXEC_TIMEOUT_GRACE_MS = 30_000;

/**
 * The attempt timeout for a job with this payload: for `vm:execute` with its own `timeoutMs`, that
 * plus {@link EXEC_TIMEOUT_GRACE_MS} (an exec may legitimately run longer than the catalog default);
 * otherwise the catalog's `timeoutMs`.
 */
export function jobTimeoutMs<N extends JobName>(name: N, payload: JobPayload<N>): number {
  if (name === "vm:execute") {
    const own = (payload as JobPayload<"vm:execute">).timeoutMs;
    if (own !== undefined) return own + EXEC_TIMEOUT_GRACE_MS;
  }
  return jobCatalog[name].timeoutMs;
}
