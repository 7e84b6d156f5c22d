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

/** Where a prompt came from: the REST API, a session WebSocket, or an integration (GitHub, Slack, Discord). */
export const promptSourceSchema = z.enum(["api", "session", "integration"]);

/** A prompt's source. */
export type PromptSource = z.infer<typeof promptSourceSchema>;

/**
 * A prompt run by a workspace's agent, as `GET /api/v1/workspaces/{id}/prompts/{promptId}`
 * returns it. `env` holds extra variables for that run only. `position` is its place in the
 * workspace's queue while it is `pending` (1 = next), null otherwise. `stdout` is the agent's
 * answer as text (parsed from its stream for Claude Code and Amp), bounded and with the
 * workspace's secrets redacted; `stdoutTruncated` says whether the bound cut it.
 */
export const promptSchema = z.object({
  id: promptIdSchema,
  workspaceId: workspaceIdSchema,
  taskId: taskIdSchema.nullable(),
  prompt: z.string(),
  systemPrompt: z.string().nullable(),
  workingDirectory: absolutePathSchema.nullable(),
  env: z.record(z.string(), z.string()),
  priority: promptPrioritySchema,
  source: promptSourceSchema,
  status: promptStatusSchema,
  position: z.number().int().positive().nullable(),
  exitCode: z.number().int().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  stdoutTruncated: z.boolean(),
  error: z.string().nullable(),
  createdAt: timestampSchema,
  startedAt: timestampSchema.nullable(),
  completedAt: timestampSchema.nullable(),
  durationMs: z.number().int().nonnegative().nullable(),
});

/** A prompt (see {@link promptSchema}). */
export type Prompt = z.infer<typeof promptSchema>;

/** True once a prompt can no longer change: completed, failed or cancelled. */
export function isTerminalPromptStatus(status: PromptStatus): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}
