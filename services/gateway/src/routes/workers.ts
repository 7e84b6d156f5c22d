import {
  listWorkersQuerySchema,
  pageSchema,
  workerResponseSchema,
  workerSchema,
} from "@aetherium/types";
import type { RouteDeps } from "../server/deps.js";
import { errorResponses, idParams, type Api } from "./api.js";
import { pageInMemory } from "./memory-page.js";

const tags = ["workers"];

/** A worker id, the key of the workers list's cursor. */
const WORKER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Workers: the fleet, and the drain/activate switch (admin). */
export function registerWorkerRoutes(api: Api, deps: RouteDeps): void {
  const { workers } = deps.runtime;

  api.get(
    "/api/v1/workers",
    {
      schema: {
        tags,
        summary: "List workers",
        querystring: listWorkersQuerySchema,
        response: { 200: pageSchema(workerSchema), ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      // A fleet is tens of hosts, not millions: page over the sorted list by id.
      const all = (await workers.list(q.zone ? { zone: q.zone } : {})).filter(
        (w) => !q.status || q.status.includes(w.status),
      );
      return pageInMemory(all, (w) => w.id, {
        order: "asc",
        limit: q.limit,
        cursor: q.cursor,
        key: WORKER_ID_PATTERN,
      });
    },
  );

  api.get(
    "/api/v1/workers/:id",
    {
      schema: {
        tags,
        summary: "Get a worker",
        params: idParams,
        response: { 200: workerResponseSchema, ...errorResponses },
      },
    },
    async (req) => ({ worker: await workers.get(req.params.id) }),
  );

  api.post(
    "/api/v1/workers/:id/drain",
    {
      schema: {
        tags,
        summary: "Drain a worker: it keeps its sandboxes but takes no new ones",
        params: idParams,
        response: { 200: workerResponseSchema, ...errorResponses },
      },
    },
    async (req) => ({ worker: await workers.drain(req.params.id) }),
  );

  api.post(
    "/api/v1/workers/:id/activate",
    {
      schema: {
        tags,
        summary: "Let a drained worker take new sandboxes again",
        params: idParams,
        response: { 200: workerResponseSchema, ...errorResponses },
      },
    },
    async (req) => ({ worker: await workers.activate(req.params.id) }),
  );
}
