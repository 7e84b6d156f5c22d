import { z } from "zod";
import { environmentIdSchema, promptIdSchema, taskIdSchema } from "../domain/ids.js";
import { absolutePathSchema, envNameSchema, resourceNameSchema } from "../domain/primitives.js";
import { promptPrioritySchema, promptSchema, promptStatusSchema } from "../domain/prompt.js";
import { secretMetadataSchema, secretTypeSchema } from "../domain/secret.js";
import { workspaceSchema, workspaceStatusSchema } from "../domain/workspace.js";
import { cursorSchema, limitSchema, repeatableQueryParamSchema } from "./pagination.js";

/** A secret value: 1 byte to 64 KiB of text. */
export const secretValueSchema = z
  .string()
  .min(1, "value is required")
  .max(65_536, "value is at most 64 KiB");

/**
 * Body of `POST /api/v1/workspaces/{id}/secrets` and `POST /api/v1/secrets` (global). `name` is
 * the environment variable the value is delivered as, so it must be a POSIX name. Adding a name
 * that exists replaces its value.
 */
export const createSecretBodySchema = z.strictObject({
  name: envNameSchema,
  value: secretValueSchema,
  type: secretTypeSchema.default("api_key"),
  description: z.string().max(2000).default(""),
});

/** A create-secret body. */
export type CreateSecretBody = z.infer<typeof createSecretBodySchema>;

/** `201` answer of creating a secret: its metadata (never the value). */
export const secretResponseSchema = z.object({ secret: secretMetadataSchema });

/** `{secret}` response. */
export type SecretResponse = z.infer<typeof secretResponseSchema>;

/**
 * Body of `POST /api/v1/workspaces`: a workspace made from an environment (by id or name).
 * `secrets` are stored (encrypted) before preparation starts, so a repository's `tokenSecret` or
 * a setup step may use them.
 */
export const createWorkspaceBodySchema = z.strictObject({
  name: resourceNameSchema,
  environment: z.string().min(1, "environment is required (an environment's id or name)").max(200),
  description: z.string().max(2000).optional(),
  secrets: z
    .array(z.strictObject({ name: envNameSchema, value: secretValueSchema }))
    .max(64, "at most 64 secrets")
    .refine((s) => new Set(s.map((x) => x.name)).size === s.length, "secret names must be unique")
    .optional(),
});

/** `202` answer of `POST /workspaces`: the workspace (status `creating`) and the task preparing it. */
export const createWorkspaceAcceptedResponseSchema = z.object({
  workspace: workspaceSchema,
  taskId: taskIdSchema,
});

/** `202` answer of creating a workspace. */
export type CreateWorkspaceAcceptedResponse = z.infer<typeof createWorkspaceAcceptedResponseSchema>;

/** `{workspace}`: answer of `GET /workspaces/{id}`. */
export const workspaceResponseSchema = z.object({ workspace: workspaceSchema });

/** `{workspace}` response. */
export type WorkspaceResponse = z.infer<typeof workspaceResponseSchema>;

/** Query of `GET /api/v1/workspaces`: `?limit&cursor`, `?status=` (repeatable), `?environmentId=`. */
export const listWorkspacesQuerySchema = z.object({
  limit: limitSchema,
  cursor: cursorSchema.optional(),
  status: repeatableQueryParamSchema.pipe(z.array(workspaceStatusSchema)).optional(),
  environmentId: environmentIdSchema.optional(),
});

/** A parsed workspace list query. */
export type ListWorkspacesQuery = z.infer<typeof listWorkspacesQuerySchema>;

/**
 * Body of `POST /api/v1/workspaces/{id}/prompts`. `systemPrompt` and `environment` are applied to
 * this run (the original stored and ignored them). A workspace that is `idle` gets a new sandbox
 * first; one that is `creating`/`preparing` queues the prompt until it is ready.
 */
export const submitPromptBodySchema = z.strictObject({
  prompt: z.string().trim().min(1, "prompt is required").max(1_048_576, "prompt is at most 1 MiB"),
  systemPrompt: z.string().max(1_048_576).optional(),
  workingDirectory: absolutePathSchema.optional(),
  environment: z.record(z.string(), z.string()).optional(),
  priority: promptPrioritySchema.default(5),
});

/** A submit-prompt body. */
export type SubmitPromptBody = z.infer<typeof submitPromptBodySchema>;

/** `202` answer of submitting a prompt. */
export const submitPromptAcceptedResponseSchema = z.object({
  prompt: promptSchema,
  taskId: taskIdSchema,
});

/** `202` answer of submitting a prompt. */
export type SubmitPromptAcceptedResponse = z.infer<typeof submitPromptAcceptedResponseSchema>;

/** `{prompt}`: answer of getting or cancelling a prompt. */
export const promptResponseSchema = z.object({ prompt: promptSchema });

/** `{prompt}` response. */
export type PromptResponse = z.infer<typeof promptResponseSchema>;

/** Query of `GET /api/v1/workspaces/{id}/prompts`: `?limit&cursor`, `?status=`. Newest first. */
export const listPromptsQuerySchema = z.object({
  limit: limitSchema,
  cursor: cursorSchema.optional(),
  status: repeatableQueryParamSchema.pipe(z.array(promptStatusSchema)).optional(),
});

/** A parsed prompt list query. */
export type ListPromptsQuery = z.infer<typeof listPromptsQuerySchema>;

/* Workspace session WebSocket (`GET /api/v1/workspaces/{id}/ws`): prompt output as it is produced. */

/** Client asks to run a prompt; same fields as {@link submitPromptBodySchema}. */
export const sessionPromptMessageSchema = z.object({
  type: z.literal("prompt"),
  ...submitPromptBodySchema.shape,
});

/** Client asks to cancel a running prompt of this workspace. */
export const sessionCancelMessageSchema = z.object({
  type: z.literal("cancel"),
  promptId: promptIdSchema,
});

/** Client keep-alive; answered by `pong`. */
export const sessionPingMessageSchema = z.object({ type: z.literal("ping") });

/** Messages a client sends on the workspace session WebSocket. */
export const sessionClientMessageSchema = z.discriminatedUnion(
  "type",
  [sessionPromptMessageSchema, sessionCancelMessageSchema, sessionPingMessageSchema],
  { error: "type must be one of prompt, cancel, ping" },
);

/** A client → server session message. */
export type SessionClientMessage = z.infer<typeof sessionClientMessageSchema>;

/**
 * Messages the server sends on the workspace session WebSocket: `status` (workspace state or a
 * note), `accepted` (prompt recorded), `output` (a chunk of the assistant's output, UTF-8 text —
 * the assistant emits text, unlike raw exec output), `completed` (final prompt record), `error`
 * (API error code + message) and `pong`.
 */
export const sessionServerMessageSchema = z.discriminatedUnion(
  "type",
  [
    z.object({
      type: z.literal("status"),
      status: workspaceStatusSchema,
      message: z.string().optional(),
    }),
    z.object({ type: z.literal("accepted"), promptId: promptIdSchema, taskId: taskIdSchema }),
    z.object({
      type: z.literal("output"),
      promptId: promptIdSchema,
      stream: z.enum(["stdout", "stderr"]),
      text: z.string(),
    }),
    z.object({ type: z.literal("completed"), prompt: promptSchema }),
    z.object({
      type: z.literal("error"),
      code: z.string(),
      message: z.string(),
      promptId: promptIdSchema.optional(),
    }),
    z.object({ type: z.literal("pong") }),
  ],
  { error: "type must be one of status, accepted, output, completed, error, pong" },
);

/** A server → client session message. */
export type SessionServerMessage = z.infer<typeof sessionServerMessageSchema>;
