import { z } from "zod";
import { vmBackendSchema, vmBackendSettingSchema } from "../domain/vm.js";

/** Whether the fleet offers one backend now, and on how many active workers. */
export const backendOfferSchema = z.object({
  backend: vmBackendSchema,
  /** True when at least one active worker runs it: a create naming it can be placed. */
  offered: z.boolean(),
  /** Active workers that run it. */
  workers: z.number().int().nonnegative(),
});

/** One backend's offer. */
export type BackendOffer = z.infer<typeof backendOfferSchema>;

/**
 * Answer of `GET /api/v1/backends`: every backend kind with whether an active worker offers it
 * now, the deployment's setting (`auto` or one backend), and the backend a create that names none
 * gets now (`auto` resolved against the current fleet).
 */
export const backendsResponseSchema = z.object({
  backends: z.array(backendOfferSchema),
  configured: vmBackendSettingSchema,
  default: vmBackendSchema,
});

/** Answer of `GET /api/v1/backends`. */
export type BackendsResponse = z.infer<typeof backendsResponseSchema>;
