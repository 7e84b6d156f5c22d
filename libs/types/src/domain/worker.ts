import { z } from "zod";
import { workerIdSchema } from "./ids.js";
import { labelsSchema, timestampSchema } from "./primitives.js";
import { vmBackendSchema } from "./vm.js";

/** Whether a worker takes new sandboxes: `active` yes, `draining` keeps its sandboxes but takes none, `offline` is gone. */
export const workerStatusSchema = z.enum(["active", "draining", "offline"], {
  error: "must be a worker status (active, draining, offline)",
});

/** A worker status. */
export type WorkerStatus = z.infer<typeof workerStatusSchema>;

/** What a worker can host in total. */
export const workerCapacitySchema = z.object({
  vcpus: z.number().nonnegative(),
  memoryMb: z.number().int().nonnegative(),
  maxVms: z.number().int().nonnegative(),
});

/** A worker's total capacity. */
export type WorkerCapacity = z.infer<typeof workerCapacitySchema>;

/** What a worker's sandboxes currently reserve. */
export const workerUsageSchema = z.object({
  vcpus: z.number().nonnegative(),
  memoryMb: z.number().int().nonnegative(),
  vms: z.number().int().nonnegative(),
});

/** A worker's current reservations. */
export type WorkerUsage = z.infer<typeof workerUsageSchema>;

/**
 * A worker host, as `GET /api/v1/workers/{id}` returns it. `address` is its internal address, which
 * the gateway dials for data-plane traffic (exec streams, files). `healthy` means it sent a
 * heartbeat recently; `backends` are those that work on that host.
 */
export const workerSchema = z.object({
  id: workerIdSchema,
  hostname: z.string(),
  address: z.string(),
  status: workerStatusSchema,
  backends: z.array(vmBackendSchema),
  capacity: workerCapacitySchema,
  used: workerUsageSchema,
  labels: labelsSchema,
  zone: z.string(),
  lastSeenAt: timestampSchema,
  healthy: z.boolean(),
});

/** A worker (see {@link workerSchema}). */
export type Worker = z.infer<typeof workerSchema>;
