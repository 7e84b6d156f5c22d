import {
  DEFAULT_NETWORK_POLICY,
  MASKED_ENV_VALUE,
  networkPolicySchema,
  type Execution,
  type Task,
  type TaskType,
  type Vm,
  type VmBackend,
  type Worker,
} from "@aetherium/types";
import type { ExecutionRow } from "../storage/repositories/executions.js";
import type { TaskRow } from "../storage/repositories/tasks.js";
import type { VmRow } from "../storage/repositories/vms.js";
import type { WorkerRow } from "../storage/repositories/workers.js";

/** A worker that has not sent a heartbeat for this long is shown unhealthy (the reaper acts later). */
export const HEALTHY_WITHIN_MS = 30_000;

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** Hides every env value: names are useful to show, values may be secrets. */
export function maskEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.keys(env).map((k) => [k, MASKED_ENV_VALUE]));
}

/** A `vms` row as the API shows it (env values masked). */
export function toVm(row: VmRow): Vm {
  const network = networkPolicySchema.safeParse(row.network);
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    backend: (row.backend ?? "docker") as VmBackend,
    image: row.image ?? "",
    vcpus: row.vcpus,
    memoryMb: row.memoryMb,
    diskMb: row.diskMb ?? 0,
    workerId: row.workerId,
    labels: row.labels,
    env: maskEnv(row.env),
    network: network.success ? network.data : DEFAULT_NETWORK_POLICY,
    tools: row.tools,
    createdAt: row.createdAt.toISOString(),
    readyAt: iso(row.readyAt),
    expiresAt: iso(row.expiresAt),
    onTimeout: row.onTimeout,
    stoppedAt: iso(row.stoppedAt),
    error: row.error,
    pendingReason: row.status === "pending" ? (row.pendingReason ?? null) : null,
  };
}

/** A `tasks` row as the API shows it; env values inside exec payloads are masked. */
export function toTask(row: TaskRow): Task {
  const payload =
    typeof row.payload === "object" && row.payload !== null && !Array.isArray(row.payload)
      ? { ...(row.payload as Record<string, unknown>) }
      : {};
  if (typeof payload.env === "object" && payload.env !== null) {
    payload.env = maskEnv(payload.env as Record<string, string>);
  }
  return {
    id: row.id,
    type: row.type as TaskType,
    status: row.status,
    vmId: row.vmId,
    workerId: row.workerId,
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    payload,
    result: row.result ?? null,
    error: row.error,
    createdAt: row.createdAt.toISOString(),
    startedAt: iso(row.startedAt),
    completedAt: iso(row.completedAt),
  };
}

/** A `workers` row as the API shows it; `healthy` is derived from the last heartbeat. */
export function toWorker(row: WorkerRow, now: Date = new Date()): Worker {
  return {
    id: row.id,
    hostname: row.hostname,
    address: row.address,
    status: row.status,
    backends: row.backends as VmBackend[],
    capacity: { vcpus: row.capacityVcpus, memoryMb: row.capacityMemoryMb, maxVms: row.maxVms },
    used: { vcpus: row.usedVcpus, memoryMb: row.usedMemoryMb, vms: row.usedVms },
    labels: row.labels,
    zone: row.zone ?? "",
    lastSeenAt: row.lastSeenAt.toISOString(),
    healthy:
      row.status !== "offline" && now.getTime() - row.lastSeenAt.getTime() < HEALTHY_WITHIN_MS,
  };
}

/** An `executions` row as the API shows it. */
export function toExecution(row: ExecutionRow): Execution {
  return {
    id: row.id,
    vmId: row.vmId ?? "",
    command: row.command,
    args: row.args,
    exitCode: row.exitCode,
    stdout: row.stdout,
    stderr: row.stderr,
    stdoutTruncated: row.stdoutTruncated,
    stderrTruncated: row.stderrTruncated,
    error: row.error,
    startedAt: row.startedAt.toISOString(),
    completedAt: iso(row.completedAt),
    durationMs: row.durationMs,
    pty: row.pty,
  };
}
