import { z } from "zod";
import { apiKeySchema, apiKeyScopeSchema } from "../domain/api-key.js";
import { noNulString } from "../domain/primitives.js";

/** Body of `POST /api/v1/api-keys`. `scopes` defaults to read + write; `admin` must be asked for. */
export const createApiKeyBodySchema = z.strictObject({
  name: noNulString().trim().min(1, "name is required").max(100, "name is at most 100 characters"),
  scopes: z
    .array(apiKeyScopeSchema)
    .min(1, "scopes must not be empty")
    .transform((scopes) => [...new Set(scopes)])
    .default(["read", "write"]),
  /**
   * The secret's shape: `aetherium` (`ak_` + base64url) or `e2b` (`e2b_` + 40 hex digits), the
   * shape the `e2b` SDKs accept as `E2B_API_KEY`. Both work on every route.
   */
  format: z
    .enum(["aetherium", "e2b"], { error: "format must be aetherium or e2b" })
    .default("aetherium"),
});

/** A create-API-key body. */
export type CreateApiKeyBody = z.infer<typeof createApiKeyBodySchema>;

/** `201` answer of `POST /api-keys`: the key's metadata and its `secret`, shown this one time only. */
export const createApiKeyResponseSchema = z.object({
  apiKey: apiKeySchema,
  secret: z.string(),
});

/** A create-API-key answer. */
export type CreateApiKeyResponse = z.infer<typeof createApiKeyResponseSchema>;
