import { z } from "zod";
import { timestampSchema } from "../domain/primitives.js";

/**
 * One sample of a running sandbox's use of its resources (`GET /api/v1/vms/{id}/metrics`, and
 * E2B's `SandboxMetric`), measured inside the sandbox at `timestamp`: CPU over half a second,
 * memory and the root filesystem at that moment. In a container the CPU and memory limits are the
 * container's cgroup; in a microVM they are the VM's own.
 */
export const vmMetricsSchema = z.object({
  /** CPUs the sandbox may use (its cgroup quota rounded up, or the VM's vCPUs). */
  cpuCount: z.number().int().positive(),
  /** Share of those CPUs used, 0–100. */
  cpuUsedPct: z.number().min(0).max(100),
  /** Bytes of memory in use, page cache that can be reclaimed excluded. */
  memUsed: z.number().int().nonnegative(),
  /** Bytes of memory the sandbox may use. */
  memTotal: z.number().int().nonnegative(),
  /** Bytes of page cache. */
  memCache: z.number().int().nonnegative(),
  /** Bytes used on the filesystem holding `/`. */
  diskUsed: z.number().int().nonnegative(),
  /** Size in bytes of the filesystem holding `/`. */
  diskTotal: z.number().int().nonnegative(),
  /** When the sample was taken (ISO 8601). */
  timestamp: timestampSchema,
});

/** A metrics sample. */
export type VmMetrics = z.infer<typeof vmMetricsSchema>;

/** Answer of `GET /api/v1/vms/{id}/metrics`. */
export const vmMetricsResponseSchema = z.object({ metrics: vmMetricsSchema });
