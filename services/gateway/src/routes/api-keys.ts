import { ConflictError, NotFoundError } from "@aetherium/common";
import type { ApiKeyRow } from "@aetherium/core";
import {
  apiKeySchema,
  apiKeyScopeSchema,
  createApiKeyBodySchema,
  createApiKeyResponseSchema,
  listQuerySchema,
  pageSchema,
  type ApiKey,
} from "@aetherium/types";
import { z } from "zod";
import { generateApiKey } from "../auth/api-key-secret.js";
import type { RouteDeps } from "../server/deps.js";
import { errorResponses, idParams, type Api } from "./api.js";
import { pageInMemory } from "./memory-page.js";

const tags = ["api keys"];

/** Orders keys by creation, then id: ISO times sort as text. */
const apiKeyCursorKey = (row: ApiKeyRow): string => `${row.createdAt.toISOString()} ${row.id}`;
const API_KEY_CURSOR_PATTERN = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [0-9a-f-]{36}$/;

/** The API shape of a key row: never the hash. */
function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    scopes: apiKeyScopeSchema.array().catch([]).parse(row.scopes),
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}

/**
 * API keys (admin scope): create (the secret is in this one answer and nowhere else — only its
 * hash is stored), list, revoke. A revoked key fails on its very next request, on every gateway.
 */
export function registerApiKeyRoutes(api: Api, deps: RouteDeps): void {
  const { repos } = deps.runtime;

  api.post(
    "/api/v1/api-keys",
    {
      schema: {
        tags,
        summary: "Create an API key",
        description:
          'The answer carries `secret`, shown this once. `scopes` defaults to read + write. `format: "e2b"` makes a secret shaped `e2b_` + hex for the `e2b` SDKs. No `Idempotency-Key` replay here: replaying would mean storing the secret.',
        body: createApiKeyBodySchema,
        response: { 201: createApiKeyResponseSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const key = generateApiKey(req.body.format);
      const row = await repos.apiKeys.create({
        name: req.body.name,
        keyHash: key.hash,
        prefix: key.prefix,
        scopes: req.body.scopes,
      });
      return reply.status(201).send({ apiKey: toApiKey(row), secret: key.secret });
    },
  );

  api.get(
    "/api/v1/api-keys",
    {
      schema: {
        tags,
        summary: "List API keys",
        querystring: listQuerySchema.extend({
          includeRevoked: z
            .stringbool({ error: "includeRevoked must be true or false" })
            .default(false),
        }),
        response: {
          200: pageSchema(apiKeySchema.extend({ prefix: z.string() })),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const rows = await repos.apiKeys.list({ includeRevoked: req.query.includeRevoked });
      // Keys are few: paged in memory, newest first.
      const page = pageInMemory(rows, apiKeyCursorKey, {
        order: "desc",
        limit: req.query.limit,
        cursor: req.query.cursor,
        key: API_KEY_CURSOR_PATTERN,
      });
      return { ...page, items: page.items.map((r) => ({ ...toApiKey(r), prefix: r.prefix })) };
    },
  );

  api.delete(
    "/api/v1/api-keys/:id",
    {
      schema: {
        tags,
        summary: "Revoke an API key",
        params: idParams,
        response: { 204: z.null().describe("revoked"), ...errorResponses },
      },
    },
    async (req, reply) => {
      if (req.principal?.keyId === req.params.id) {
        throw new ConflictError(
          "a key cannot revoke itself; use another admin key (so nobody locks themselves out by accident)",
        );
      }
      if (!(await repos.apiKeys.revoke(req.params.id))) {
        const row = await repos.apiKeys.get(req.params.id);
        if (!row) throw new NotFoundError("API key", req.params.id);
        throw new ConflictError(`API key ${req.params.id} is already revoked`);
      }
      deps.streams.revoked(req.params.id);
      return reply.status(204).send(null);
    },
  );
}
