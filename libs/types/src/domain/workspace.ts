import { z } from "zod";
import { environmentIdSchema, vmIdSchema, workspaceIdSchema } from "./ids.js";
import {
  absolutePathSchema,
  envNameSchema,
  resourceNameSchema,
  timestampSchema,
} from "./primitives.js";

/** The AI coding assistant a workspace runs prompts with. */
export const aiAssistantSchema = z.enum(["claude-code", "ampcode"], {
  error: 'must be "claude-code" or "ampcode"',
});

/** An AI assistant. */
export type AiAssistant = z.infer<typeof aiAssistantSchema>;

/**
 * Lifecycle of a workspace: `creating` → `preparing` (tools, prep steps) → `ready`; `idle` when its
 * sandbox was removed after inactivity (the workspace, its secrets and history are kept), and
 * `spawning` while a new sandbox is made for it; `failed`; `deleting` → `deleted`.
 */
export const workspaceStatusSchema = z.enum(
  ["creating", "preparing", "ready", "spawning", "idle", "failed", "deleting", "deleted"],
  {
    error:
      "must be a workspace status (creating, preparing, ready, spawning, idle, failed, deleting, deleted)",
  },
);

/** A workspace status. */
export type WorkspaceStatus = z.infer<typeof workspaceStatusSchema>;

/** Clone a git repository into the workspace. */
export const gitCloneStepConfigSchema = z.object({
  url: z.string().min(1, "url is required"),
  branch: z.string().min(1).optional(),
  destPath: absolutePathSchema.optional(),
});

/** Run a script. `interpreter` defaults to `bash`. */
export const scriptStepConfigSchema = z.object({
  content: z.string().min(1, "content is required"),
  interpreter: z.string().min(1).optional(),
});

/** Set a plain environment variable for later commands (credentials go in secrets instead). */
export const envVarStepConfigSchema = z.object({
  key: envNameSchema,
  value: z.string(),
});

/** A preparation step as submitted: what to do and in which order (lower first). */
export const prepStepSpecSchema = z.discriminatedUnion(
  "type",
  [
    z.object({
      type: z.literal("git_clone"),
      order: z.number().int().optional(),
      config: gitCloneStepConfigSchema,
    }),
    z.object({
      type: z.literal("script"),
      order: z.number().int().optional(),
      config: scriptStepConfigSchema,
    }),
    z.object({
      type: z.literal("env_var"),
      order: z.number().int().optional(),
      config: envVarStepConfigSchema,
    }),
  ],
  { error: 'type must be "git_clone", "script" or "env_var"' },
);

/** A preparation step as submitted. */
export type PrepStepSpec = z.infer<typeof prepStepSpecSchema>;

/** Status of one preparation step. */
export const prepStepStatusSchema = z.enum([
  "pending",
  "running",
  "completed",
  "failed",
  "skipped",
]);

/** A preparation step status. */
export type PrepStepStatus = z.infer<typeof prepStepStatusSchema>;

/** A preparation step with its outcome, as returned inside a workspace. */
export const prepStepSchema = z.intersection(
  prepStepSpecSchema,
  z.object({
    id: z.string(),
    order: z.number().int(),
    status: prepStepStatusSchema,
    exitCode: z.number().int().nullable(),
    stdout: z.string(),
    stderr: z.string(),
    error: z.string().nullable(),
    startedAt: timestampSchema.nullable(),
    completedAt: timestampSchema.nullable(),
    durationMs: z.number().int().nonnegative().nullable(),
  }),
);

/** A preparation step with its outcome. */
export type PrepStep = z.infer<typeof prepStepSchema>;

/**
 * An AI-assistant workspace, as `GET /api/v1/workspaces/{id}` returns it. `vmId` is null while it
 * has no sandbox (`creating`, `idle`); `idleSince` is when its last prompt finished.
 */
export const workspaceSchema = z.object({
  id: workspaceIdSchema,
  name: resourceNameSchema,
  description: z.string(),
  environmentId: environmentIdSchema.nullable(),
  vmId: vmIdSchema.nullable(),
  status: workspaceStatusSchema,
  aiAssistant: aiAssistantSchema,
  aiAssistantConfig: z.record(z.string(), z.unknown()),
  workingDirectory: absolutePathSchema,
  prepSteps: z.array(prepStepSchema),
  createdAt: timestampSchema,
  readyAt: timestampSchema.nullable(),
  stoppedAt: timestampSchema.nullable(),
  idleSince: timestampSchema.nullable(),
  error: z.string().nullable(),
});

/** A workspace (see {@link workspaceSchema}). */
export type Workspace = z.infer<typeof workspaceSchema>;
