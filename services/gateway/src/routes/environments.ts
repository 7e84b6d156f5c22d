import {
  createEnvironmentBodySchema,
  environmentResponseSchema,
  environmentSchema,
  listQuerySchema,
  pageSchema,
  updateEnvironmentBodySchema,
} from "@aetherium/types";
import { z } from "zod";
import type { RouteDeps } from "../server/deps.js";
import { errorResponses, idParams, type Api } from "./api.js";

const tags = ["environments"];

/** Environments (workspace templates): create, list, get, update, delete. `{id}` takes a name too. */
export function registerEnvironmentRoutes(api: Api, deps: RouteDeps): void {
  const { environments } = deps.runtime;

  api.post(
    "/api/v1/environments",
    {
      schema: {
        tags,
        summary: "Create an environment",
        description:
          "A template for workspaces: sandbox (backend, image, size, network), repository, tools (mise specs), env, secret names, MCP servers, setup steps and the agent. `name` and `agent` are required. Workspaces made from it (`POST /workspaces`) apply it.",
        body: createEnvironmentBodySchema,
        response: { 201: environmentResponseSchema, ...errorResponses },
      },
    },
    async (req, reply) =>
      reply.status(201).send({ environment: await environments.create(req.body) }),
  );

  api.get(
    "/api/v1/environments",
    {
      schema: {
        tags,
        summary: "List environments",
        description: "Newest first.",
        querystring: listQuerySchema,
        response: { 200: pageSchema(environmentSchema), ...errorResponses },
      },
    },
    async (req) =>
      environments.list({
        limit: req.query.limit,
        ...(req.query.cursor ? { cursor: req.query.cursor } : {}),
      }),
  );

  api.get(
    "/api/v1/environments/:id",
    {
      schema: {
        tags,
        summary: "Get an environment",
        description: "By id or name.",
        params: idParams,
        response: { 200: environmentResponseSchema, ...errorResponses },
      },
    },
    async (req) => ({ environment: await environments.get(req.params.id) }),
  );

  api.put(
    "/api/v1/environments/:id",
    {
      schema: {
        tags,
        summary: "Update an environment",
        description:
          "Replaces the fields given (lists and maps as a whole; `null` clears a nullable field). Workspaces already made keep the environment as it was.",
        params: idParams,
        body: updateEnvironmentBodySchema,
        response: { 200: environmentResponseSchema, ...errorResponses },
      },
    },
    async (req) => ({ environment: await environments.update(req.params.id, req.body) }),
  );

  api.delete(
    "/api/v1/environments/:id",
    {
      schema: {
        tags,
        summary: "Delete an environment",
        description: "Workspaces made from it keep working (each keeps a snapshot).",
        params: idParams,
        response: { 204: z.null().describe("deleted"), ...errorResponses },
      },
    },
    async (req, reply) => {
      await environments.delete(req.params.id);
      return reply.status(204).send(null);
    },
  );
}
