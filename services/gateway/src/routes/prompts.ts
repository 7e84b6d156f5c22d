import {
  isTerminalPromptStatus,
  listPromptsQuerySchema,
  listQuerySchema,
  noNulString,
  pageSchema,
  promptResponseSchema,
  promptSchema,
  promptWaitQuerySchema,
  sessionMessagesResponseSchema,
  submitPromptBodySchema,
  submitPromptResponseSchema,
  workspaceSessionSchema,
} from "@aetherium/types";
import type { RouteDeps } from "../server/deps.js";
import { clientGone } from "../streams/wait-for-task.js";
import { errorResponses, idParams, type Api } from "./api.js";
import { registerPromptSessionRoute } from "./prompts-session.js";
import { DEFAULT_TENANT } from "./prompts-tenant.js";

const tags = ["prompts"];

/** How long `?wait=true` on a prompt waits by default: as long as a prompt's job may run. */
const DEFAULT_PROMPT_WAIT_MS = 60 * 60_000;

const childId = noNulString().min(1, "id is required").max(200, "id is at most 200 characters");
const promptParams = idParams.extend({ promptId: childId });
const sessionParams = idParams.extend({ sessionId: childId });

/**
 * Prompts to a workspace's agent (`/workspaces/{id}/prompts`: submit, list, get, cancel; `?wait=true`
 * answers when the prompt has finished), the workspace's session WebSocket and its history.
 */
export function registerPromptRoutes(api: Api, deps: RouteDeps): void {
  const { prompts } = deps.runtime;
  const waitMs = deps.promptWaitTimeoutMs ?? DEFAULT_PROMPT_WAIT_MS;

  api.post(
    "/api/v1/workspaces/:id/prompts",
    {
      schema: {
        tags,
        summary: "Send a prompt to the workspace's agent",
        description:
          "Records the prompt and queues it behind the workspace's other prompts (one runs at a time; `position` says where it waits). Answers 202 at once; with `?wait=true` answers 200 once it has finished (202 with its state if the server's wait limit passes first). The agent runs as the sandbox's user `user` in the working directory with `env`, the system prompt and the workspace's secrets in its environment.",
        params: idParams,
        querystring: promptWaitQuerySchema,
        body: submitPromptBodySchema,
        response: {
          200: submitPromptResponseSchema,
          202: submitPromptResponseSchema,
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const { prompt, taskId } = await prompts.submit(
        DEFAULT_TENANT,
        req.params.id,
        req.body,
        "api",
      );
      if (!req.query.wait) return reply.status(202).send({ prompt, taskId });
      const done = await prompts.waitFor(DEFAULT_TENANT, req.params.id, prompt.id, {
        timeoutMs: waitMs,
        signal: clientGone(reply.raw),
      });
      return reply
        .status(isTerminalPromptStatus(done.status) ? 200 : 202)
        .send({ prompt: done, taskId });
    },
  );

  api.get(
    "/api/v1/workspaces/:id/prompts",
    {
      schema: {
        tags,
        summary: "The workspace's prompts, newest first",
        params: idParams,
        querystring: listPromptsQuerySchema,
        response: { 200: pageSchema(promptSchema), ...errorResponses },
      },
    },
    async (req) => prompts.list(DEFAULT_TENANT, req.params.id, req.query),
  );

  api.get(
    "/api/v1/workspaces/:id/prompts/:promptId",
    {
      schema: {
        tags,
        summary: "One prompt, with its answer so far",
        description:
          "With `?wait=true` answers once the prompt has finished (or with its state after the server's wait limit).",
        params: promptParams,
        querystring: promptWaitQuerySchema,
        response: { 200: promptResponseSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { id, promptId } = req.params;
      if (!req.query.wait) return { prompt: await prompts.get(DEFAULT_TENANT, id, promptId) };
      return {
        prompt: await prompts.waitFor(DEFAULT_TENANT, id, promptId, {
          timeoutMs: waitMs,
          signal: clientGone(reply.raw),
        }),
      };
    },
  );

  api.post(
    "/api/v1/workspaces/:id/prompts/:promptId/cancel",
    {
      schema: {
        tags,
        summary: "Cancel a prompt",
        description:
          "A queued prompt is removed from the queue; a running one's agent is killed. Answers with the prompt (`cancelled`, or still `running` if its agent has not stopped within 10 s). A finished prompt is 409.",
        params: promptParams,
        response: { 200: promptResponseSchema, ...errorResponses },
      },
    },
    async (req) => ({
      prompt: await prompts.cancel(DEFAULT_TENANT, req.params.id, req.params.promptId),
    }),
  );

  api.get(
    "/api/v1/workspaces/:id/sessions",
    {
      schema: {
        tags,
        summary: "The workspace's sessions, newest first",
        params: idParams,
        querystring: listQuerySchema,
        response: { 200: pageSchema(workspaceSessionSchema), ...errorResponses },
      },
    },
    async (req) =>
      prompts.listSessions(DEFAULT_TENANT, req.params.id, {
        ...(req.query.limit !== undefined ? { limit: req.query.limit } : {}),
        ...(req.query.cursor ? { cursor: req.query.cursor } : {}),
      }),
  );

  api.get(
    "/api/v1/workspaces/:id/sessions/:sessionId",
    {
      schema: {
        tags,
        summary: "One session and its history",
        description:
          "The prompts sent on the session and the agent's (redacted) answers, oldest first.",
        params: sessionParams,
        response: { 200: sessionMessagesResponseSchema, ...errorResponses },
      },
    },
    async (req) => prompts.sessionMessages(DEFAULT_TENANT, req.params.id, req.params.sessionId),
  );

  registerPromptSessionRoute(api, deps);
}
