import { z } from "zod";
import { promptIdSchema, taskIdSchema, workspaceIdSchema } from "./ids.js";
import { absolutePathSchema, timestampSchema } from "./primitives.js";

/** Lifecycle of a prompt: `pending` → `running` → `completed` | `failed`; `cancelled` before it finishes. */
export const promptStatusSchema = z.enum(
  ["pending", "running", "completed", "failed", "cancelled"],
  {
    error: "must be a prompt status (pending, running, completed, failed, cancelled)",
  },
);

/** A prompt status. */
export type PromptStatus = z.infer<typeof promptStatusSchema>;

/** Prompt priority, 0 (lowest) to 10; default 5. */
export const promptPrioritySchema = z
  .number()
  .int("priority must be an integer")
  .min(0, "priority must be between 0 and 10")
  .max(10, "priority must be between 0 and 10");

/**
 * A prompt run by a workspace's AI assistant, as `GET /api/v1/workspaces/{id}/prompts/{promptId}`
 * returns it. `environment` holds extra variables for that run only.
 */
export const promptSchema = z.object({
  id: promptIdSchema,
  workspaceId: workspaceIdSchema,
  taskId: taskIdSchema.nullable(),
  prompt: z.string(),
  systemPrompt: z.string().nullable(),
  workingDirectory: absolutePathSchema.nullable(),
  environment: z.record(z.string(), z.string()),
  priority: promptPrioritySchema,
  status: promptStatusSchema,
  exitCode: z.number().int().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  error: z.string().nullable(),
  createdAt: timestampSchema,
  startedAt: timestampSchema.nullable(),
  completedAt: timestampSchema.nullable(),
  durationMs: z.number().int().nonnegative().nullable(),
});

/** A prompt (see {@link promptSchema}). */
export type Prompt = z.infer<typeof promptSchema>;
