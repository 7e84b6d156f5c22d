import { z } from "zod";
import { environmentIdSchema, taskIdSchema } from "../domain/ids.js";
import { envNameSchema, resourceNameSchema } from "../domain/primitives.js";
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

/** `202` answer of `DELETE /workspaces/{id}`: the task removing its sandbox and then it. */
export const deleteWorkspaceAcceptedResponseSchema = z.object({ taskId: taskIdSchema });

/** `202` answer of deleting a workspace. */
export type DeleteWorkspaceAcceptedResponse = z.infer<typeof deleteWorkspaceAcceptedResponseSchema>;
