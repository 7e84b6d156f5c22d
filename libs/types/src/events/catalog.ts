import { z } from "zod";
import { promptIdSchema, vmIdSchema, workspaceIdSchema } from "../domain/ids.js";
import { promptSchema } from "../domain/prompt.js";
import { taskSchema } from "../domain/task.js";
import { vmSchema, vmStatusSchema, type VmStatus } from "../domain/vm.js";
import { workerSchema } from "../domain/worker.js";
import {
  prepStepSchema,
  workspaceSchema,
  workspaceStatusSchema,
  type WorkspaceStatus,
} from "../domain/workspace.js";

/*
 * Naming: `<entity>.<what happened>`. Status events are named after the status reached, so a
 * subscriber can follow `vm.failed` alone; each carries a snapshot of the entity after the change
 * and the status it left (null for the `created` events).
 */

const vmEventData = z.object({ vm: vmSchema, previousStatus: vmStatusSchema.nullable() });
const taskEventData = z.object({ task: taskSchema });
const workerEventData = z.object({ worker: workerSchema });
const workspaceEventData = z.object({
  workspace: workspaceSchema,
  previousStatus: workspaceStatusSchema.nullable(),
});
const promptEventData = z.object({ prompt: promptSchema });

/**
 * Every domain event type → the schema of its `data`. Published on the event bus and streamed by
 * `GET /api/v1/events`.
 */
export const eventCatalog = {
  /** A sandbox was recorded (status `pending`). */
  "vm.created": vmEventData,
  /** A worker started building/booting the sandbox. */
  "vm.creating": vmEventData,
  /** The sandbox's agent answers; it accepts commands. */
  "vm.running": vmEventData,
  /** The sandbox is frozen: no CPU, its memory and processes kept until it is resumed. */
  "vm.paused": vmEventData,
  /** The sandbox is being stopped. */
  "vm.stopping": vmEventData,
  /** The sandbox is stopped; its disk is kept. */
  "vm.stopped": vmEventData,
  /** The sandbox is being deleted. */
  "vm.deleting": vmEventData,
  /** The sandbox is gone. */
  "vm.deleted": vmEventData,
  /** An infrastructure step failed; `vm.error` says which. */
  "vm.failed": vmEventData,
  /** The sandbox's worker vanished or no longer lists it. */
  "vm.lost": vmEventData,
  /**
   * Progress of a tool the sandbox installs while `creating`: `started`, `output` pieces (the
   * sandbox's env values redacted), then `succeeded`, `skipped` or `failed` (with `error`).
   */
  "vm.tool": z.object({
    vmId: vmIdSchema,
    spec: z.string(),
    phase: z.enum(["started", "output", "succeeded", "skipped", "failed"]),
    output: z.string().optional(),
    version: z.string().optional(),
    path: z.string().optional(),
    durationMs: z.number().int().nonnegative().optional(),
    error: z.string().optional(),
  }),

  /** A task was recorded. */
  "task.created": taskEventData,
  /** The task was put on a queue. */
  "task.queued": taskEventData,
  /** A worker started an attempt. */
  "task.started": taskEventData,
  /** The task finished; `task.result` holds its result (a non-zero exit code is a success). */
  "task.succeeded": taskEventData,
  /** The task failed for good. */
  "task.failed": taskEventData,
  /** The task was cancelled. */
  "task.cancelled": taskEventData,
  /** An attempt hit an infrastructure error and another attempt is queued after `delayMs`. */
  "task.retrying": z.object({
    task: taskSchema,
    error: z.string(),
    delayMs: z.number().int().nonnegative(),
  }),

  /** A worker registered (first time or after being offline). */
  "worker.joined": workerEventData,
  /** A worker's capacity, usage, labels or health changed. */
  "worker.updated": workerEventData,
  /** A worker was set to drain: it keeps its sandboxes and takes no new ones. */
  "worker.draining": workerEventData,
  /** A draining worker was made active again. */
  "worker.activated": workerEventData,
  /** A worker stopped sending heartbeats or shut down; its sandboxes become `lost`. */
  "worker.offline": workerEventData,

  /** A workspace was recorded (status `creating`); its sandbox is being made. */
  "workspace.created": workspaceEventData,
  /** Its sandbox runs; the preparation steps are running. */
  "workspace.preparing": workspaceEventData,
  /** The workspace accepts prompts (prepared, or resumed after an idle stop). */
  "workspace.ready": workspaceEventData,
  /** The workspace's sandbox was stopped after inactivity; its files are kept. */
  "workspace.idle": workspaceEventData,
  /** Preparing the workspace failed; `workspace.failedStep` names the step. */
  "workspace.failed": workspaceEventData,
  /** The workspace and its sandbox were deleted. */
  "workspace.deleted": workspaceEventData,
  /** A preparation step started, finished or was skipped; `step.output` is redacted. */
  "workspace.step": z.object({ workspaceId: z.string(), step: prepStepSchema }),

  /** A prompt was submitted. */
  "prompt.created": promptEventData,
  /** The assistant started on the prompt. */
  "prompt.started": promptEventData,
  /** The assistant finished with exit code 0. */
  "prompt.completed": promptEventData,
  /** The assistant finished with a non-zero exit code or could not run. */
  "prompt.failed": promptEventData,
  /** The prompt was cancelled. */
  "prompt.cancelled": promptEventData,
  /**
   * A piece of a running prompt's answer (text, the workspace's secrets redacted), in order per
   * prompt (`seq` from 0). Sent as produced; the prompt's record holds the whole answer.
   */
  "prompt.output": z.object({
    promptId: promptIdSchema,
    workspaceId: workspaceIdSchema,
    stream: z.enum(["stdout", "stderr"]),
    seq: z.number().int().nonnegative(),
    text: z.string(),
  }),
} as const satisfies Record<string, z.ZodType>;

/** A domain event type, e.g. `vm.running`. */
export type EventType = keyof typeof eventCatalog;

/** Every event type, in catalog order. */
export const EVENT_TYPES = Object.keys(eventCatalog) as EventType[];

/** Schema of an event type name. */
export const eventTypeSchema = z.enum(EVENT_TYPES as [EventType, ...EventType[]], {
  error: "must be a known event type",
});

/** The `data` of events of type `T`. */
export type EventData<T extends EventType> = z.infer<(typeof eventCatalog)[T]>;

/** The event published when a sandbox reaches `status` (`pending` → `vm.created`). */
export function vmEventTypeForStatus(status: VmStatus): EventType {
  return status === "pending" ? "vm.created" : `vm.${status}`;
}

/** The event published when a workspace reaches `status` (`creating` → `workspace.created`). */
export function workspaceEventTypeForStatus(status: WorkspaceStatus): EventType {
  return status === "creating" ? "workspace.created" : `workspace.${status}`;
}
