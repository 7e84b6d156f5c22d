import { z } from "zod";
import { vmStatusSchema } from "../domain/vm.js";
import { workerSchema, workerStatusSchema } from "../domain/worker.js";
import { noNulString } from "../domain/primitives.js";
import { cursorSchema, limitSchema, repeatableQueryParamSchema } from "./pagination.js";

/** Query of `GET /api/v1/workers`: `?limit&cursor`, `?status=` (repeatable), `?zone=`. */
export const listWorkersQuerySchema = z.object({
  limit: limitSchema,
  cursor: cursorSchema.optional(),
  status: repeatableQueryParamSchema.pipe(z.array(workerStatusSchema)).optional(),
  zone: noNulString().min(1).optional(),
});

/** A parsed worker list query. */
export type ListWorkersQuery = z.infer<typeof listWorkersQuerySchema>;

/** `{worker}`: answer of `GET /workers/{id}`, `POST /workers/{id}/drain` and `POST /workers/{id}/activate`. */
export const workerResponseSchema = z.object({ worker: workerSchema });

/** `{worker}` response. */
export type WorkerResponse = z.infer<typeof workerResponseSchema>;

/** Jobs in one queue, by state. */
export const queueDepthSchema = z.object({
  waiting: z.number().int().nonnegative(),
  active: z.number().int().nonnegative(),
  delayed: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
});

/** Jobs in one queue, by state. */
export type QueueDepth = z.infer<typeof queueDepthSchema>;

const resourceTotals = z.object({
  vcpus: z.number().nonnegative(),
  memoryMb: z.number().int().nonnegative(),
  vms: z.number().int().nonnegative(),
});

/**
 * Answer of `GET /api/v1/cluster/stats`: worker counts, capacity and reservations summed over
 * active workers, sandboxes by status, sandbox counts by zone, and depth of every queue (the shared
 * queue and each worker's own), keyed by queue name.
 */
export const clusterStatsSchema = z.object({
  workers: z.object({
    total: z.number().int().nonnegative(),
    active: z.number().int().nonnegative(),
    draining: z.number().int().nonnegative(),
    offline: z.number().int().nonnegative(),
    healthy: z.number().int().nonnegative(),
  }),
  capacity: resourceTotals,
  used: resourceTotals,
  vms: z.partialRecord(vmStatusSchema, z.number().int().nonnegative()),
  zones: z.record(z.string(), z.number().int().nonnegative()),
  queues: z.record(z.string(), queueDepthSchema),
});

/** Cluster totals. */
export type ClusterStats = z.infer<typeof clusterStatsSchema>;
