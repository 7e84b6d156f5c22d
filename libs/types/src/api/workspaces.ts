import { z } from "zod";
import { environmentIdSchema, taskIdSchema } from "../domain/ids.js";
import { networkPolicySchema } from "../domain/network-policy.js";
import { absolutePathSchema, envNameSchema, resourceNameSchema } from "../domain/primitives.js";
import { secretMetadataSchema, secretScopeSchema, secretTypeSchema } from "../domain/secret.js";
import { toolsSchema } from "../domain/tool-spec.js";
import { vmBackendSchema } from "../domain/vm.js";
import {
  aiAssistantSchema,
  prepStepSpecSchema,
  workspaceSchema,
  workspaceStatusSchema,
} from "../domain/workspace.js";
import { cursorSchema, limitSchema, repeatableQueryParamSchema } from "./pagination.js";
import { imageRefSchema, memoryMbSchema, vcpusSchema } from "./vms.js";

/** A secret value: 1 byte to 64 KiB of text. */
export const secretValueSchema = z
  .string()
  .min(1, "value is required")
  .max(65_536, "value is at most 64 KiB");

/**
 * Body of `POST /api/v1/workspaces/{id}/secrets` (and one entry of a workspace's initial secrets).
 * `name` is the environment variable the value is injected as, so it must be a POSIX name.
 */
export const createSecretBodySchema = z.strictObject({
  name: envNameSchema,
  value: secretValueSchema,
  type: secretTypeSchema.default("api_key"),
  description: z.string().max(2000).default(""),
  scope: secretScopeSchema.default("workspace"),
});

/** A create-secret body. */
export type CreateSecretBody = z.infer<typeof createSecretBodySchema>;

/** `201` answer of creating a secret: its metadata (never the value). */
export const secretResponseSchema = z.object({ secret: secretMetadataSchema });

/** `{secret}` response. */
export type SecretResponse = z.infer<typeof secretResponseSchema>;

/**
 * Body of `POST /api/v1/workspaces`. With `environmentId` the environment supplies defaults (size,
 * tools, repository, MCP servers) that fields given here override. `tools` take specs such as
 * `node@20` (no separate version map).
 */
export const createWorkspaceBodySchema = z.strictObject({
  name: resourceNameSchema,
  description: z.string().max(2000).optional(),
  environmentId: environmentIdSchema.optional(),
  backend: vmBackendSchema.optional(),
  image: imageRefSchema.optional(),
  vcpus: vcpusSchema.optional(),
  memoryMb: memoryMbSchema.optional(),
  aiAssistant: aiAssistantSchema.default("claude-code"),
  aiAssistantConfig: z.record(z.string(), z.unknown()).optional(),
  workingDirectory: absolutePathSchema.optional(),
  secrets: z
    .array(createSecretBodySchema.omit({ scope: true }))
    .max(64, "at most 64 secrets")
    .optional(),
  prepSteps: z.array(prepStepSpecSchema).max(64, "at most 64 prep steps").optional(),
  tools: toolsSchema.optional(),
  network: networkPolicySchema.optional(),
});

/** A create-workspace body. */
export type CreateWorkspaceBody = z.infer<typeof createWorkspaceBodySchema>;

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
