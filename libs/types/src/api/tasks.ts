import { z } from "zod";
import { vmIdSchema, workerIdSchema } from "../domain/ids.js";
import { taskSchema, taskStatusSchema, taskTypeSchema } from "../domain/task.js";
import { cursorSchema, limitSchema, repeatableQueryParamSchema } from "./pagination.js";

/**
 * Query of `GET /api/v1/tasks`: `?limit&cursor`, `?status=` and `?type=` (each repeatable or
 * comma-separated), `?vmId=`, `?workerId=`. Newest first.
 */
export const listTasksQuerySchema = z.object({
  limit: limitSchema,
  cursor: cursorSchema.optional(),
  status: repeatableQueryParamSchema.pipe(z.array(taskStatusSchema)).optional(),
  type: repeatableQueryParamSchema.pipe(z.array(taskTypeSchema)).optional(),
  vmId: vmIdSchema.optional(),
  workerId: workerIdSchema.optional(),
});

/** A parsed task list query. */
export type ListTasksQuery = z.infer<typeof listTasksQuerySchema>;

/** A task list query as a client may send it. */
export type ListTasksQueryInput = z.input<typeof listTasksQuerySchema>;

/** `{task}`: answer of `GET /tasks/{id}` and of `POST /tasks/{id}/cancel` (a finished task gives `409`). */
export const taskResponseSchema = z.object({ task: taskSchema });

/** `{task}` response. */
export type TaskResponse = z.infer<typeof taskResponseSchema>;
