import {
  createSecretBodySchema,
  envNameSchema,
  secretMetadataSchema,
  secretResponseSchema,
} from "@aetherium/types";
import { z } from "zod";
import type { RouteDeps } from "../server/deps.js";
import { errorResponses, type Api } from "./api.js";

const tags = ["secrets"];
// The tenant of every key until keys carry one.
const TENANT = "default";
const nameParams = z.object({ name: envNameSchema });

/**
 * Global secrets (offered to every workspace; a workspace secret of the same name wins). Values
 * are write-only: stored encrypted, never returned by any route.
 */
export function registerSecretRoutes(api: Api, deps: RouteDeps): void {
  const { secrets } = deps.runtime;
  const owner = { tenant: TENANT, workspaceId: null };

  api.post(
    "/api/v1/secrets",
    {
      schema: {
        tags,
        summary: "Add or replace a global secret",
        description:
          "`{name, value, type?, description?}`; `name` is the environment variable the value is delivered as. The answer is its metadata: no route ever returns a value.",
        body: createSecretBodySchema,
        response: { 201: secretResponseSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const actor = { actorKeyId: req.principal?.keyId ?? null, requestId: req.id };
      return reply.status(201).send({ secret: await secrets.set(owner, req.body, actor) });
    },
  );

  api.get(
    "/api/v1/secrets",
    {
      schema: {
        tags,
        summary: "List global secrets",
        description: "Names and metadata, by name; never values.",
        response: { 200: z.object({ items: z.array(secretMetadataSchema) }), ...errorResponses },
      },
    },
    async () => ({ items: await secrets.list(owner) }),
  );

  api.delete(
    "/api/v1/secrets/:name",
    {
      schema: {
        tags,
        summary: "Delete a global secret",
        params: nameParams,
        response: { 204: z.null().describe("deleted"), ...errorResponses },
      },
    },
    async (req, reply) => {
      const actor = { actorKeyId: req.principal?.keyId ?? null, requestId: req.id };
      await secrets.delete(owner, req.params.name, actor);
      return reply.status(204).send(null);
    },
  );
}
