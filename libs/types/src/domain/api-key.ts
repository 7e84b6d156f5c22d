import { z } from "zod";
import { apiKeyIdSchema } from "./ids.js";
import { timestampSchema } from "./primitives.js";

/**
 * What an API key may do: `read` (GET routes and event streams), `write` (create, change, delete,
 * exec), `admin` (API keys, worker drain/activate).
 */
export const apiKeyScopeSchema = z.enum(["read", "write", "admin"], {
  error: 'must be "read", "write" or "admin"',
});

/** An API key scope. */
export type ApiKeyScope = z.infer<typeof apiKeyScopeSchema>;

/** An API key's metadata; the secret itself is shown once, at creation, and stored only as a hash. */
export const apiKeySchema = z.object({
  id: apiKeyIdSchema,
  name: z.string(),
  scopes: z.array(apiKeyScopeSchema),
  createdAt: timestampSchema,
  lastUsedAt: timestampSchema.nullable(),
  revokedAt: timestampSchema.nullish(),
});

/** An API key's metadata (see {@link apiKeySchema}). */
export type ApiKey = z.infer<typeof apiKeySchema>;
