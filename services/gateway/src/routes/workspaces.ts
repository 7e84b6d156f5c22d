import {
  createSecretBodySchema,
  createWorkspaceAcceptedResponseSchema,
  createWorkspaceBodySchema,
  deleteWorkspaceAcceptedResponseSchema,
  envNameSchema,
  listWorkspacesQuerySchema,
  pageSchema,
  secretMetadataSchema,
  secretResponseSchema,
  waitQuerySchema,
  workspaceResponseSchema,
  workspaceSchema,
} from "@aetherium/types";
import { z } from "zod";
import type { RouteDeps } from "../server/deps.js";
import { clientGone } from "../streams/wait-for-task.js";
import { errorResponses, idParams, type Api } from "./api.js";
import { DEFAULT_TENANT } from "./prompts-tenant.js";

const tags = ["workspaces"];
const secretParams = idParams.extend({ name: envNameSchema });

/**
 * Workspaces: create from an environment (`?wait=true` answers once prepared or failed), list,
 * get and delete (`?wait=true` answers once gone), by id or name; and the workspace's own
 * secrets (write-only values, every change audited).
 */
export function registerWorkspaceRoutes(api: Api, deps: RouteDeps): void {
  const { workspaces } = deps.runtime;
  const waitMs = deps.waitTimeoutMs;
  const actorOf = (req: { principal?: { keyId?: string } | undefined; id: string }) => ({
    actorKeyId: req.principal?.keyId ?? null,
    requestId: req.id,
  });

  api.post(
    "/api/v1/workspaces",
    {
      schema: {
        tags,
        summary: "Create a workspace from an environment",
        description:
          "Records the workspace (status `creating`) with its `secrets` (stored encrypted), records its sandbox from the environment (backend, image, size, env, network) and queues its preparation: the clone, each tool, each setup step and the agent's MCP config, each a recorded step. Answers 202 with the preparing task; with `?wait=true` answers 201 once it is `ready` or `failed` (`failedStep` and `error` name the step and carry its output), or 202 if the server's wait limit passes first. An unknown environment is a 400 naming `environment`.",
        querystring: waitQuerySchema,
        body: createWorkspaceBodySchema,
        response: {
          201: workspaceResponseSchema,
          202: createWorkspaceAcceptedResponseSchema,
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const { workspace, taskId } = await workspaces.create(DEFAULT_TENANT, req.body, actorOf(req));
      if (!req.query.wait) return reply.status(202).send({ workspace, taskId });
      const done = await workspaces.waitPrepared(DEFAULT_TENANT, workspace.id, {
        timeoutMs: waitMs,
        signal: clientGone(reply.raw),
      });
      if (done.status === "creating" || done.status === "preparing") {
        return reply.status(202).send({ workspace: done, taskId });
      }
      return reply.status(201).send({ workspace: done });
    },
  );

  api.get(
    "/api/v1/workspaces",
    {
      schema: {
        tags,
        summary: "List workspaces",
        description: "Newest first; `?status=` (repeatable) and `?environmentId=` filter.",
        querystring: listWorkspacesQuerySchema,
        response: { 200: pageSchema(workspaceSchema), ...errorResponses },
      },
    },
    async (req) => workspaces.list(DEFAULT_TENANT, req.query),
  );

  api.get(
    "/api/v1/workspaces/:id",
    {
      schema: {
        tags,
        summary: "Get a workspace",
        description:
          "By id or name, with its preparation steps (status, output, exit code, duration). A workspace whose sandbox was deleted on its own shows `failed` with the reason.",
        params: idParams,
        response: { 200: workspaceResponseSchema, ...errorResponses },
      },
    },
    async (req) => ({ workspace: await workspaces.read(DEFAULT_TENANT, req.params.id) }),
  );

  api.delete(
    "/api/v1/workspaces/:id",
    {
      schema: {
        tags,
        summary: "Delete a workspace",
        description:
          "Cancels its preparation, removes its sandbox, then the workspace with its steps, secrets and prompt history. Answers 202 with the task doing it, or 204 when nothing was left to wait for; with `?wait=true` answers 204 once it is gone (202 if the server's wait limit passes first).",
        params: idParams,
        querystring: waitQuerySchema,
        response: {
          202: deleteWorkspaceAcceptedResponseSchema,
          204: z.null().describe("deleted"),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const ws = await workspaces.read(DEFAULT_TENANT, req.params.id);
      const { taskId } = await workspaces.delete(DEFAULT_TENANT, ws.id);
      if (taskId === null) return reply.status(204).send(null);
      if (!req.query.wait) return reply.status(202).send({ taskId });
      const gone = await workspaces.waitDeleted(DEFAULT_TENANT, ws.id, {
        timeoutMs: waitMs,
        signal: clientGone(reply.raw),
      });
      return gone ? reply.status(204).send(null) : reply.status(202).send({ taskId });
    },
  );

  api.post(
    "/api/v1/workspaces/:id/secrets",
    {
      schema: {
        tags,
        summary: "Add or replace a secret of the workspace",
        description:
          "`{name, value, type?, description?}`: delivered to the workspace's preparation steps and its agent as the environment variable `name`, in memory only. The answer is its metadata; no route ever returns a value.",
        params: idParams,
        body: createSecretBodySchema,
        response: { 201: secretResponseSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const secret = await workspaces.setSecret(
        DEFAULT_TENANT,
        req.params.id,
        req.body,
        actorOf(req),
      );
      return reply.status(201).send({ secret });
    },
  );

  api.get(
    "/api/v1/workspaces/:id/secrets",
    {
      schema: {
        tags,
        summary: "List the workspace's secrets",
        description: "Names and metadata, by name; never values.",
        params: idParams,
        response: { 200: z.object({ items: z.array(secretMetadataSchema) }), ...errorResponses },
      },
    },
    async (req) => ({ items: await workspaces.listSecrets(DEFAULT_TENANT, req.params.id) }),
  );

  api.delete(
    "/api/v1/workspaces/:id/secrets/:name",
    {
      schema: {
        tags,
        summary: "Delete a secret of the workspace",
        params: secretParams,
        response: { 204: z.null().describe("deleted"), ...errorResponses },
      },
    },
    async (req, reply) => {
      await workspaces.deleteSecret(DEFAULT_TENANT, req.params.id, req.params.name, actorOf(req));
      return reply.status(204).send(null);
    },
  );
}
