import { z } from "zod";
import { promptIdSchema, taskIdSchema, workspaceIdSchema } from "../domain/ids.js";
import { absolutePathSchema, envVarsSchema, timestampSchema } from "../domain/primitives.js";
import { promptPrioritySchema, promptSchema, promptStatusSchema } from "../domain/prompt.js";
import { workspaceStatusSchema } from "../domain/workspace.js";
import { cursorSchema, limitSchema, repeatableQueryParamSchema } from "./pagination.js";

/**
 * Body of `POST /api/v1/workspaces/{id}/prompts`. `env` adds variables to this run only (the
 * workspace's secrets are added by the platform); `systemPrompt` and `workingDirectory` override
 * the workspace's for this run; `priority` (0–10, default 5) orders the workspace's queue, higher
 * first, then oldest first.
 */
export const submitPromptBodySchema = z.strictObject({
  prompt: z.string().trim().min(1, "prompt is required").max(1_048_576, "prompt is at most 1 MiB"),
  env: envVarsSchema.optional(),
  systemPrompt: z.string().max(1_048_576, "systemPrompt is at most 1 MiB").optional(),
  workingDirectory: absolutePathSchema.optional(),
  priority: promptPrioritySchema.default(5),
});

/** A submit-prompt body. */
export type SubmitPromptBody = z.infer<typeof submitPromptBodySchema>;

/** What a client may send as a submit-prompt body (priority may be left out). */
export type SubmitPromptInput = z.input<typeof submitPromptBodySchema>;

/**
 * Query of `POST /prompts` and `GET /prompts/{promptId}`: `?wait=true` answers once the prompt has
 * finished (or with its state so far when the server's wait limit passes first).
 */
export const promptWaitQuerySchema = z.object({
  wait: z.stringbool({ error: "wait must be true or false" }).default(false),
});

/** `202` answer of submitting a prompt (`200` with `?wait=true`). */
export const submitPromptResponseSchema = z.object({
  prompt: promptSchema,
  taskId: taskIdSchema,
});

/** Answer of submitting a prompt. */
export type SubmitPromptResponse = z.infer<typeof submitPromptResponseSchema>;

/** `{prompt}`: answer of getting or cancelling a prompt. */
export const promptResponseSchema = z.object({ prompt: promptSchema });

/** `{prompt}` response. */
export type PromptResponse = z.infer<typeof promptResponseSchema>;

/** Query of `GET /api/v1/workspaces/{id}/prompts`: `?limit&cursor`, `?status=` (repeatable). Newest first. */
export const listPromptsQuerySchema = z.object({
  limit: limitSchema,
  cursor: cursorSchema.optional(),
  status: repeatableQueryParamSchema.pipe(z.array(promptStatusSchema)).optional(),
});

/** A parsed prompt list query. */
export type ListPromptsQuery = z.infer<typeof listPromptsQuerySchema>;

/** One session on a workspace's WebSocket: who connected and when. */
export const workspaceSessionSchema = z.object({
  id: z.string(),
  workspaceId: workspaceIdSchema,
  status: z.enum(["active", "closed"]),
  connectedAt: timestampSchema,
  lastActivityAt: timestampSchema,
  disconnectedAt: timestampSchema.nullable(),
});

/** A workspace session. */
export type WorkspaceSession = z.infer<typeof workspaceSessionSchema>;

/**
 * One entry of a session's history: a `prompt` the client sent, the agent's `response` (its
 * redacted answer and exit code) or an `error`.
 */
export const sessionMessageSchema = z.object({
  id: z.string(),
  sessionId: z.string(),
  type: z.enum(["prompt", "response", "error"]),
  content: z.string(),
  promptId: promptIdSchema.nullable(),
  exitCode: z.number().int().nullable(),
  createdAt: timestampSchema,
});

/** A session message. */
export type SessionMessage = z.infer<typeof sessionMessageSchema>;

/** Answer of `GET /workspaces/{id}/sessions/{sessionId}/messages`: oldest first. */
export const sessionMessagesResponseSchema = z.object({
  session: workspaceSessionSchema,
  messages: z.array(sessionMessageSchema),
});

/** Session history response. */
export type SessionMessagesResponse = z.infer<typeof sessionMessagesResponseSchema>;

/* Workspace session WebSocket (`GET /api/v1/workspaces/{id}/ws`). */

/** Client asks to run a prompt; same fields as {@link submitPromptBodySchema}. */
export const sessionPromptMessageSchema = z.strictObject({
  type: z.literal("prompt"),
  ...submitPromptBodySchema.shape,
});

/** Client asks to cancel a prompt of this workspace (running: killed; queued: removed). */
export const sessionCancelMessageSchema = z.strictObject({
  type: z.literal("cancel"),
  promptId: promptIdSchema,
});

/** Client keep-alive; answered by `pong`. */
export const sessionPingMessageSchema = z.strictObject({ type: z.literal("ping") });

/** Messages a client sends on the workspace session WebSocket. */
export const sessionClientMessageSchema = z.discriminatedUnion(
  "type",
  [sessionPromptMessageSchema, sessionCancelMessageSchema, sessionPingMessageSchema],
  { error: "type must be one of prompt, cancel, ping" },
);

/** A client → server session message. */
export type SessionClientMessage = z.infer<typeof sessionClientMessageSchema>;

/**
 * Messages the server sends on the workspace session WebSocket:
 * - `status`: the session opened (`sessionId`, the workspace's status), or a prompt of this
 *   session changed state (`promptId`, `promptStatus`, queue `position` while pending);
 * - `chunk`: a piece of the agent's answer as it is produced (redacted text);
 * - `response`: the prompt finished; the final record (exit code, duration, whole answer);
 * - `error`: the API's error code and message, for a message that was refused or a prompt that
 *   could not run;
 * - `pong`: the answer to a `ping`.
 */
export const sessionServerMessageSchema = z.discriminatedUnion(
  "type",
  [
    z.object({
      type: z.literal("status"),
      sessionId: z.string(),
      workspaceStatus: workspaceStatusSchema.or(z.string()),
      promptId: promptIdSchema.optional(),
      promptStatus: promptStatusSchema.optional(),
      position: z.number().int().positive().nullable().optional(),
    }),
    z.object({
      type: z.literal("chunk"),
      promptId: promptIdSchema,
      stream: z.enum(["stdout", "stderr"]),
      text: z.string(),
    }),
    z.object({ type: z.literal("response"), prompt: promptSchema }),
    z.object({
      type: z.literal("error"),
      code: z.string(),
      message: z.string(),
      promptId: promptIdSchema.optional(),
    }),
    z.object({ type: z.literal("pong") }),
  ],
  { error: "type must be one of status, chunk, response, error, pong" },
);

/** A server → client session message. */
export type SessionServerMessage = z.infer<typeof sessionServerMessageSchema>;
