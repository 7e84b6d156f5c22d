import {
  listWorkersQuerySchema,
  pageSchema,
  workerResponseSchema,
  workerSchema,
} from "@aetherium/types";
import type { RouteDeps } from "../server/deps.js";
import { errorResponses, idParams, type Api } from "./api.js";

const tags = ["workers"];

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
      const all = (await workers.list(q.zone ? { zone: q.zone } : {}))
        .filter((w) => !q.status || q.status.includes(w.status))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const after = q.cursor ? Buffer.from(q.cursor, "base64url").toString() : undefined;
      const rest = after === undefined ? all : all.filter((w) => w.id > after);
      const items = rest.slice(0, q.limit);
      const last = items.at(-1);
      return {
        items,
        nextCursor:
          rest.length > items.length && last ? Buffer.from(last.id).toString("base64url") : null,
      };
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
