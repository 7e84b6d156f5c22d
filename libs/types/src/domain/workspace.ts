import { z } from "zod";
import { agentSpecSchema, agentTypeSchema } from "./environment.js";
import { environmentIdSchema, vmIdSchema, workspaceIdSchema } from "./ids.js";
import { absolutePathSchema, resourceNameSchema, timestampSchema } from "./primitives.js";

/**
 * The coding agent a workspace runs prompts with (stored in `workspaces.ai_assistant`): the same
 * names as an environment's `agent.type`.
 */
export const aiAssistantSchema = agentTypeSchema;

/** An AI assistant. */
export type AiAssistant = z.infer<typeof aiAssistantSchema>;

/**
 * Lifecycle of a workspace: `creating` (its sandbox is being made) → `preparing` (clone, tools,
 * setup steps, MCP config) → `ready`; `failed` names the step that failed. `idle`: its sandbox
 * was stopped after `idleTimeoutSec` without activity; its files are kept and the next prompt
 * starts it again. A deleted workspace is gone (with its steps and history).
 */
export const workspaceStatusSchema = z.enum(["creating", "preparing", "ready", "idle", "failed"], {
  error: "must be a workspace status (creating, preparing, ready, idle, failed)",
});

/** A workspace status. */
export type WorkspaceStatus = z.infer<typeof workspaceStatusSchema>;

/** What a preparation step does. */
export const prepStepTypeSchema = z.enum(["clone", "tool", "script", "env", "mcp"]);

/** A preparation step type. */
export type PrepStepType = z.infer<typeof prepStepTypeSchema>;

/** Status of one preparation step. */
export const prepStepStatusSchema = z.enum([
  "pending",
  "running",
  "succeeded",
  "failed",
  "skipped",
]);

/** A preparation step status. */
export type PrepStepStatus = z.infer<typeof prepStepStatusSchema>;

/**
 * One recorded preparation step: `name` says what it is (`clone`, `tool node@20`, `setup 2`,
 * `mcp`); `output` is its combined output, redacted of secret values and bounded.
 */
export const prepStepSchema = z.object({
  id: z.string(),
  type: prepStepTypeSchema,
  name: z.string(),
  order: z.number().int(),
  status: prepStepStatusSchema,
  exitCode: z.number().int().nullable(),
  output: z.string(),
  error: z.string().nullable(),
  startedAt: timestampSchema.nullable(),
  completedAt: timestampSchema.nullable(),
  durationMs: z.number().int().nonnegative().nullable(),
});

/** A preparation step with its outcome. */
export type PrepStep = z.infer<typeof prepStepSchema>;

/**
 * A workspace, as `GET /api/v1/workspaces/{id}` returns it: made from an environment (a snapshot
 * of it is kept, so editing or deleting the environment leaves the workspace as it was made).
 * `vmId` is its sandbox; `idleSince` is when it was last active; `error` and `failedStep` say
 * why it is `failed`.
 */
export const workspaceSchema = z.object({
  id: workspaceIdSchema,
  name: resourceNameSchema,
  description: z.string(),
  environmentId: environmentIdSchema.nullable(),
  vmId: vmIdSchema.nullable(),
  status: workspaceStatusSchema,
  agent: agentSpecSchema,
  workingDirectory: absolutePathSchema,
  idleTimeoutSec: z.number().int().positive(),
  prepSteps: z.array(prepStepSchema),
  createdAt: timestampSchema,
  readyAt: timestampSchema.nullable(),
  stoppedAt: timestampSchema.nullable(),
  idleSince: timestampSchema.nullable(),
  error: z.string().nullable(),
  failedStep: z.string().nullable(),
});

/** A workspace (see {@link workspaceSchema}). */
export type Workspace = z.infer<typeof workspaceSchema>;
