import { toErrorEnvelope } from "@aetherium/common";
import { relayExecSockets } from "@aetherium/core";
import {
  executeAcceptedResponseSchema,
  executeBodySchema,
  executeQuerySchema,
  executeResponseSchema,
  executionResponseSchema,
  executionSchema,
  idempotencyKeySchema,
  listQuerySchema,
  pageSchema,
  type ExecServerMessage,
} from "@aetherium/types";
import type { WebSocket } from "ws";
import { z } from "zod";
import type { RouteDeps } from "../server/deps.js";
import { errorResponses, idParams, type Api } from "./api.js";

const tags = ["exec"];

/**
 * Commands: `POST /vms/{id}/execute` (through the owning worker's data plane, or queued with
 * `?async=true`), the executions history, and the exec WebSocket relayed to the worker.
 */
export function registerExecRoutes(api: Api, deps: RouteDeps): void {
  const { executions } = deps;

  api.post(
    "/api/v1/vms/:id/execute",
    {
      schema: {
        tags,
        summary: "Run a command and wait for it",
        description:
          "Without `args` the command runs through `/bin/sh -c`. A non-zero exit code is a normal 200 answer. `?async=true` queues it and answers 202 at once. `stdout` and `stderr` come back as UTF-8 text: bytes that are not valid UTF-8, and NUL, become U+FFFD; use the exec WebSocket for exact bytes. The command, each argument and each `NAME=value` of `env` are at most 131071 bytes of UTF-8, and all of them together at most 1 MiB (the kernel's `execve` limits).",
        params: idParams,
        querystring: executeQuerySchema,
        headers: z.object({ "idempotency-key": idempotencyKeySchema.optional() }),
        body: executeBodySchema,
        response: {
          200: executeResponseSchema,
          202: executeAcceptedResponseSchema,
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      if (req.query.async) {
        const key = req.headers["idempotency-key"];
        const queued = await executions.queue(req.params.id, req.body, {
          ...(key ? { idempotencyKey: key } : {}),
        });
        return reply.status(202).send(queued);
      }
      const ctl = new AbortController();
      reply.raw.once("close", () => {
        if (!reply.raw.writableFinished) ctl.abort();
      });
      return { execution: await executions.run(req.params.id, req.body, { signal: ctl.signal }) };
    },
  );

  api.get(
    "/api/v1/vms/:id/executions",
    {
      schema: {
        tags,
        summary: "A sandbox's commands, newest first",
        params: idParams,
        querystring: listQuerySchema,
        response: { 200: pageSchema(executionSchema), ...errorResponses },
      },
    },
    async (req) => executions.list(req.params.id, req.query),
  );

  api.get(
    "/api/v1/executions/:id",
    {
      schema: {
        tags,
        summary: "One recorded command",
        params: idParams,
        response: { 200: executionResponseSchema, ...errorResponses },
      },
    },
    async (req) => ({ execution: await executions.get(req.params.id) }),
  );

  api.get(
    "/api/v1/vms/:id/exec",
    {
      websocket: true,
      schema: {
        tags,
        summary: "Interactive command (WebSocket)",
        description:
          'Send `{"type":"start", command, args?, env?, cwd?, pty?: {cols, rows}}`, then `stdin`/`closeStdin`/`signal`/`resize`; receive `started`, `stdout`/`stderr` (base64 `data`), then `exit`. Browsers pass the key as subprotocol `bearer.<key>` next to `aetherium.v1`.',
        params: idParams,
      },
    },
    async (socket: WebSocket, req) => {
      // Buffer what the client sends while the worker's socket opens: its `start` may arrive
      // before the relay is in place.
      const early: Buffer[] = [];
      const hold = (data: Buffer) => early.push(data);
      socket.on("message", hold);
      let upstream: WebSocket;
      try {
        upstream = await deps.router.openExec(req.params.id);
      } catch (err) {
        const env = toErrorEnvelope(err, req.id);
        const msg: ExecServerMessage = { type: "error", ...env.error };
        socket.send(JSON.stringify(msg));
        socket.close(1011, env.error.code);
        return;
      }
      socket.off("message", hold);
      deps.streams.track(socket, req.principal?.keyId);
      const relay = relayExecSockets(socket, upstream, { logger: deps.logger });
      for (const data of early) socket.emit("message", data, false);
      await relay;
    },
  );
}
