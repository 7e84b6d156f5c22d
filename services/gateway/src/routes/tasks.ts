import { listTasksQuerySchema, pageSchema, taskResponseSchema, taskSchema } from "@aetherium/types";
import type { RouteDeps } from "../server/deps.js";
import { errorResponses, idParams, type Api } from "./api.js";

const tags = ["tasks"];

/** Tasks: every control-plane request's durable record, with its real status. */
export function registerTaskRoutes(api: Api, deps: RouteDeps): void {
  const { tasks } = deps.runtime;

  api.get(
    "/api/v1/tasks",
    {
      schema: {
        tags,
        summary: "List tasks, newest first",
        querystring: listTasksQuerySchema,
        response: { 200: pageSchema(taskSchema), ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      return tasks.list({
        limit: q.limit,
        ...(q.cursor ? { cursor: q.cursor } : {}),
        ...(q.status ? { status: q.status } : {}),
        ...(q.type ? { type: q.type } : {}),
        ...(q.vmId ? { vmId: q.vmId } : {}),
        ...(q.workerId ? { workerId: q.workerId } : {}),
      });
    },
  );

  api.get(
    "/api/v1/tasks/:id",
    {
      schema: {
        tags,
        summary: "Get a task",
        params: idParams,
        response: { 200: taskResponseSchema, ...errorResponses },
      },
    },
    async (req) => ({ task: await tasks.get(req.params.id) }),
  );

  api.post(
    "/api/v1/tasks/:id/cancel",
    {
      schema: {
        tags,
        summary: "Cancel a task that has not finished",
        description: "A finished task answers 409.",
        params: idParams,
        response: { 200: taskResponseSchema, ...errorResponses },
      },
    },
    async (req) => ({ task: await tasks.cancel(req.params.id) }),
  );
}
