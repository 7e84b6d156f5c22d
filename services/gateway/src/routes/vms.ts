import { UnavailableError } from "@aetherium/common";
import {
  createVmAcceptedResponseSchema,
  createVmBodySchema,
  idempotencyKeySchema,
  listVmsQuerySchema,
  pageSchema,
  setVmTimeoutBodySchema,
  stopVmBodySchema,
  taskAcceptedResponseSchema,
  vmResponseSchema,
  vmMetricsResponseSchema,
  vmSchema,
  waitQuerySchema,
  type Task,
  type Vm,
} from "@aetherium/types";
import type { FastifyReply } from "fastify";
import { z } from "zod";
import { clientGone, waitForTask } from "../streams/wait-for-task.js";
import type { RouteDeps } from "../server/deps.js";
import { errorResponses, idParams, type Api } from "./api.js";

const tags = ["sandboxes"];
const idempotencyHeaders = z.object({ "idempotency-key": idempotencyKeySchema.optional() });

/** Sandboxes: `POST/GET /vms`, `GET/DELETE /vms/{id}`, stop, start, pause, resume, timeout and metrics. */
export function registerVmRoutes(api: Api, deps: RouteDeps): void {
  const { vms } = deps.runtime;

  /** Waits for a sandbox task and answers like spec/api.md says, or 202 with the state so far. */
  const finish = async (
    reply: FastifyReply,
    taskId: string,
    vmId: string,
    done: (vm: Vm, task: Task) => FastifyReply,
  ): Promise<FastifyReply> => {
    const task = await waitForTask(deps.runtime, taskId, {
      timeoutMs: deps.waitTimeoutMs,
      signal: clientGone(reply.raw),
    });
    const vm = await vms.get(vmId);
    if (task.status === "succeeded") return done(vm, task);
    if (task.status === "failed" || task.status === "cancelled") {
      throw new UnavailableError(
        `sandbox ${vmId} ${task.type.slice(3)} ${task.status}: ${vm.error ?? task.error ?? "no reason recorded"}`,
        { details: { vm, taskId } },
      );
    }
    // Still running after the wait: say so honestly instead of pretending it finished.
    return reply.status(202).send({ vm, taskId });
  };

  api.post(
    "/api/v1/vms",
    {
      schema: {
        tags,
        summary: "Create a sandbox",
        description:
          "Records the sandbox and queues its creation (202). With `?wait=true` answers 201 once it is running and its agent answers.",
        body: createVmBodySchema.nullish(),
        querystring: waitQuerySchema,
        headers: idempotencyHeaders,
        response: {
          201: vmResponseSchema,
          202: createVmAcceptedResponseSchema,
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const key = req.headers["idempotency-key"];
      const { vm, taskId } = await vms.create(req.body ?? {}, key ? { idempotencyKey: key } : {});
      if (!req.query.wait) return reply.status(202).send({ vm, taskId });
      // A claim from the warm pool is running already, its task recorded as succeeded: nothing
      // to wait for, and re-reading both rows would only add to the claim's latency.
      if (vm.status === "running") return reply.status(201).send({ vm });
      return finish(reply, taskId, vm.id, (running) => reply.status(201).send({ vm: running }));
    },
  );

  api.get(
    "/api/v1/vms",
    {
      schema: {
        tags,
        summary: "List sandboxes",
        description:
          "Newest first. Filters: `status` (repeatable or comma-separated), `label=key=value` (repeatable, all must match), `workerId`.",
        querystring: listVmsQuerySchema,
        response: { 200: pageSchema(vmSchema), ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      return vms.list({
        limit: q.limit,
        ...(q.cursor ? { cursor: q.cursor } : {}),
        ...(q.status ? { status: q.status } : {}),
        ...(q.labels ? { labels: q.labels } : {}),
        ...(q.workerId ? { workerId: q.workerId } : {}),
      });
    },
  );

  api.get(
    "/api/v1/vms/:id",
    {
      schema: {
        tags,
        summary: "Get a sandbox",
        params: idParams,
        response: { 200: vmResponseSchema, ...errorResponses },
      },
    },
    async (req) => ({ vm: await vms.get(req.params.id) }),
  );

  api.delete(
    "/api/v1/vms/:id",
    {
      schema: {
        tags,
        summary: "Delete a sandbox",
        description:
          "Queues the deletion (202 {taskId}); `?wait=true` answers 204 once it is gone.",
        params: idParams,
        querystring: waitQuerySchema,
        response: {
          202: taskAcceptedResponseSchema,
          204: z.null().describe("deleted"),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const task = await vms.delete(req.params.id);
      // Never placed on a worker (or already deleted): it is gone already, nothing was queued.
      if (!task) return reply.status(204).send(null);
      if (!req.query.wait) return reply.status(202).send({ taskId: task.id });
      return finish(reply, task.id, req.params.id, () => reply.status(204).send(null));
    },
  );

  for (const action of ["stop", "start"] as const) {
    api.post(
      `/api/v1/vms/:id/${action}`,
      {
        schema: {
          tags,
          summary:
            action === "stop" ? "Stop a sandbox (its disk is kept)" : "Start a stopped sandbox",
          params: idParams,
          querystring: waitQuerySchema,
          body: action === "stop" ? stopVmBodySchema.nullish() : z.strictObject({}).nullish(),
          response: { 200: vmResponseSchema, 202: taskAcceptedResponseSchema, ...errorResponses },
        },
      },
      async (req, reply) => {
        const body = (req.body ?? {}) as { force?: boolean };
        const task =
          action === "stop"
            ? await vms.stop(req.params.id, body.force ?? false)
            : await vms.start(req.params.id);
        if (!req.query.wait) return reply.status(202).send({ taskId: task.id });
        return finish(reply, task.id, req.params.id, (vm) => reply.status(200).send({ vm }));
      },
    );
  }

  for (const action of ["pause", "resume"] as const) {
    api.post(
      `/api/v1/vms/:id/${action}`,
      {
        schema: {
          tags,
          summary:
            action === "pause"
              ? "Pause a sandbox (frozen in place, memory and processes kept)"
              : "Resume a paused sandbox",
          params: idParams,
          querystring: waitQuerySchema,
          body: z.strictObject({}).nullish(),
          response: { 200: vmResponseSchema, 202: taskAcceptedResponseSchema, ...errorResponses },
        },
      },
      async (req, reply) => {
        const task =
          action === "pause" ? await vms.pause(req.params.id) : await vms.resume(req.params.id);
        if (!req.query.wait) return reply.status(202).send({ taskId: task.id });
        return finish(reply, task.id, req.params.id, (vm) => reply.status(200).send({ vm }));
      },
    );
  }

  api.post(
    "/api/v1/vms/:id/timeout",
    {
      schema: {
        tags,
        summary: "Set the time left before automatic deletion",
        params: idParams,
        body: setVmTimeoutBodySchema,
        response: { 200: vmResponseSchema, ...errorResponses },
      },
    },
    async (req) => ({ vm: await vms.setTimeout(req.params.id, req.body.timeoutSec) }),
  );

  api.get(
    "/api/v1/vms/:id/metrics",
    {
      schema: {
        tags,
        summary: "Measure a running sandbox's CPU, memory and disk use",
        description:
          "One sample, taken inside the sandbox when asked (about half a second: CPU is measured over that time). 409 unless the sandbox is running.",
        params: idParams,
        response: { 200: vmMetricsResponseSchema, ...errorResponses },
      },
    },
    async (req) => ({ metrics: await deps.router.metrics(req.params.id) }),
  );
}
