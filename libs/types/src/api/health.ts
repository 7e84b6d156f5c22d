import { z } from "zod";

/** State of one component: `ok`, `degraded` (working, impaired) or `down`. */
export const componentStatusSchema = z.enum(["ok", "degraded", "down"]);

/** A component state. */
export type ComponentStatus = z.infer<typeof componentStatusSchema>;

/** One component of `GET /health`; `message` explains anything but `ok`. */
export const componentHealthSchema = z.object({
  status: componentStatusSchema,
  message: z.string().optional(),
  latencyMs: z.number().nonnegative().optional(),
});

/** One component's health. */
export type ComponentHealth = z.infer<typeof componentHealthSchema>;

/**
 * Answer of `GET /api/v1/health` (open, no key needed). `status` is `degraded` when any component is
 * not `ok`; components are named `database`, `queue`, `eventBus`, and one per backend
 * (`backend.docker`, …).
 */
export const healthResponseSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  components: z.record(z.string(), componentHealthSchema),
  version: z.string().optional(),
});

/** A health answer. */
export type HealthResponse = z.infer<typeof healthResponseSchema>;
