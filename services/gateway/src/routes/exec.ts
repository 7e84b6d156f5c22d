import { randomUUID } from "node:crypto";
import { BadRequestError, NotFoundError, toErrorEnvelope } from "@aetherium/common";
import {
  dataPlaneTargetFor,
  relayExecSockets,
  toExecution,
  type Repositories,
} from "@aetherium/core";
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
  const { repos, tasks, vms } = deps.runtime;

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
      if (!req.query.async) {
        const ctl = new AbortController();
        reply.raw.once("close", () => {
          if (!reply.raw.writableFinished) ctl.abort();
        });
        // A refused token is answered before the command starts, so a retry cannot run it twice.
        const execution = await deps.withOwner(req.params.id, (t) =>
          deps.dataPlane.execute(t, req.params.id, req.body, { signal: ctl.signal }),
        );
        return { execution };
      }
      // A queued command's stdin is stored with its task, as text PostgreSQL holds: no NUL.
      if (req.body.stdin?.includes("\0")) {
        throw new BadRequestError(
          "stdin of an async execute must not contain NUL characters; run it synchronously or send binary input over the exec WebSocket",
        );
      }
      const target = await dataPlaneTargetFor(repos, req.params.id);
      const executionId = randomUUID();
      const key = req.headers["idempotency-key"];
      const task = await tasks.submit(
        "vm:execute",
        { vmId: req.params.id, executionId, ...req.body },
        {
          vmId: req.params.id,
          ownerWorkerId: target.workerId,
          ...(key ? { idempotencyKey: key } : {}),
        },
      );
      // A replayed key returns the first request's execution, not the id made up just now.
      const firstId = (task.payload as { executionId?: string } | null)?.executionId ?? executionId;
      if (firstId === executionId) {
        // Readable at once (`GET /executions/{id}`, not completed yet) instead of a 404 until a
        // worker picks the job up; the worker's start then takes over the same row.
        await repos.executions.recordQueued({
          id: executionId,
          vmId: req.params.id,
          taskId: task.id,
          command: req.body.command,
          args: req.body.args ?? [],
          envKeys: Object.keys(req.body.env ?? {}),
          cwd: req.body.cwd ?? null,
          user: req.body.user ?? null,
        });
      }
      return reply.status(202).send({ executionId: firstId, taskId: task.id });
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
    async (req) => {
      await vms.get(req.params.id); // 404 for an unknown sandbox, not an empty list
      const page = await repos.executions.listByVm(req.params.id, {
        limit: req.query.limit,
        ...(req.query.cursor ? { cursor: req.query.cursor } : {}),
      });
      return { items: page.items.map(toExecution), nextCursor: page.nextCursor };
    },
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
    async (req) => ({ execution: await executionOr404(repos, req.params.id) }),
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
        upstream = await deps.withOwner(req.params.id, (t) =>
          deps.dataPlane.openExec(t, req.params.id),
        );
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

async function executionOr404(repos: Repositories, id: string) {
  const row = await repos.executions.get(id);
  if (!row) throw new NotFoundError("execution", id);
  return toExecution(row);
}
