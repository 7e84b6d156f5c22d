import { z } from "zod";
import { secretIdSchema, workspaceIdSchema } from "./ids.js";
import { timestampSchema } from "./primitives.js";

/** What kind of credential a secret holds; informational. */
export const secretTypeSchema = z.enum(["api_key", "ssh_key", "token", "password", "other"], {
  error: "must be a secret type (api_key, ssh_key, token, password, other)",
});

/** A secret type. */
export type SecretType = z.infer<typeof secretTypeSchema>;

/** `workspace`: one workspace's; `global`: offered to every workspace (a workspace secret of the same name wins). */
export const secretScopeSchema = z.enum(["workspace", "global"], {
  error: 'must be "workspace" or "global"',
});

/** A secret scope. */
export type SecretScope = z.infer<typeof secretScopeSchema>;

/**
 * A secret's metadata. There is deliberately no value field: values are encrypted at rest
 * (AES-256-GCM, `keyId` names the key), delivered to the agent's process environment as `name`,
 * and never returned by the API. `workspaceId` is null for global secrets.
 */
export const secretMetadataSchema = z.object({
  id: secretIdSchema,
  workspaceId: workspaceIdSchema.nullable(),
  name: z.string(),
  type: secretTypeSchema,
  description: z.string(),
  scope: secretScopeSchema,
  keyId: z.string(),
  createdAt: timestampSchema,
  updatedAt: timestampSchema,
});

/** A secret's metadata (see {@link secretMetadataSchema}). */
export type SecretMetadata = z.infer<typeof secretMetadataSchema>;
