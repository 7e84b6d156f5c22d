import { z } from "zod";
import { vmIdSchema, workerIdSchema } from "./ids.js";
import { networkPolicySchema } from "./network-policy.js";
import { toolSpecSchema } from "./tool-spec.js";
import { labelsSchema, resourceNameSchema, timestampSchema } from "./primitives.js";
import {
  assertTransition,
  canTransition,
  terminalStatuses,
  type TransitionTable,
} from "./state-machine.js";

/**
 * How a sandbox is isolated: a Docker container, a Firecracker microVM (needs `/dev/kvm`) or a
 * QEMU `microvm` (KVM where present, TCG otherwise).
 */
export const vmBackendSchema = z.enum(["docker", "firecracker", "qemu"], {
  error: 'must be one of "docker", "firecracker", "qemu"',
});

/** A sandbox backend. */
export type VmBackend = z.infer<typeof vmBackendSchema>;

/** Every sandbox backend. */
export const VM_BACKENDS = vmBackendSchema.options;

/**
 * The backend setting of a deployment (`sandbox.defaultBackend`): one backend, or `auto`, which
 * the control plane resolves at each create from the backends its active workers offer then.
 */
export const vmBackendSettingSchema = z.enum(["auto", ...vmBackendSchema.options], {
  error: 'must be one of "auto", "docker", "firecracker", "qemu"',
});

/** A backend setting: a backend, or `auto`. */
export type VmBackendSetting = z.infer<typeof vmBackendSettingSchema>;

/**
 * Lifecycle of a sandbox.
 * - `pending`: recorded, waiting for a worker; `creating`: a worker is building/booting it;
 * - `running`: its agent answers; `paused`: frozen (its processes keep their memory but get no CPU),
 *   resumed as it was; `stopping` / `stopped`: halted, disk kept, can be started again;
 * - `deleting` / `deleted`: being / been removed (the row stays for history);
 * - `failed`: an infrastructure step failed; `lost`: its worker vanished or no longer lists it.
 */
export const vmStatusSchema = z.enum(
  [
    "pending",
    "creating",
    "running",
    "paused",
    "stopping",
    "stopped",
    "deleting",
    "deleted",
    "failed",
    "lost",
  ],
  {
    error:
      "must be a sandbox status (pending, creating, running, paused, stopping, stopped, deleting, deleted, failed, lost)",
  },
);

/** A sandbox status. */
export type VmStatus = z.infer<typeof vmStatusSchema>;

/**
 * Allowed sandbox status transitions.
 *
 * Why each non-obvious edge exists:
 * - `stopped → creating | running`: `start` either reboots a VM (through `creating`) or resumes a
 *   container at once.
 * - every live status → `failed | lost | deleting`: infrastructure can fail at any step, a worker can
 *   vanish at any time, and a user can delete at any time.
 * - `running ⇄ paused`: pause freezes the sandbox in place; resume thaws it, processes intact.
 * - `lost → running | stopped`: the worker came back and its backend still lists the sandbox
 *   (reconciliation); `lost → failed`: it came back and the sandbox is broken.
 * - `failed | lost → deleted`: nothing is left to clean up, e.g. the worker is gone for good.
 * - `deleting → failed | lost`: deletion can fail too; it is retried from `failed` via `deleting`.
 * - `deleted` is terminal.
 */
export const VM_STATUS_TRANSITIONS = {
  pending: ["creating", "failed", "deleting"],
  creating: ["running", "failed", "lost", "deleting"],
  running: ["paused", "stopping", "failed", "lost", "deleting"],
  paused: ["running", "failed", "lost", "deleting"],
  stopping: ["stopped", "failed", "lost", "deleting"],
  stopped: ["creating", "running", "failed", "lost", "deleting"],
  deleting: ["deleted", "failed", "lost"],
  deleted: [],
  failed: ["deleting", "deleted"],
  lost: ["running", "stopped", "failed", "deleting", "deleted"],
} as const satisfies TransitionTable<VmStatus>;

/** True when a sandbox may move from `from` to `to` (see {@link VM_STATUS_TRANSITIONS}). */
export function canTransitionVm(from: VmStatus, to: VmStatus): boolean {
  return canTransition<VmStatus>(VM_STATUS_TRANSITIONS, from, to);
}

/** Throws an `IllegalTransitionError` unless a sandbox may move from `from` to `to`. */
export function assertVmTransition(from: VmStatus, to: VmStatus): void {
  assertTransition<VmStatus>("vm", VM_STATUS_TRANSITIONS, from, to);
}

/** Statuses a sandbox never leaves (only `deleted`). */
export const VM_TERMINAL_STATUSES: readonly VmStatus[] =
  terminalStatuses<VmStatus>(VM_STATUS_TRANSITIONS);

/** True when the sandbox has reached a status it never leaves. */
export function isTerminalVmStatus(status: VmStatus): boolean {
  return VM_TERMINAL_STATUSES.includes(status);
}

/** What the API shows instead of each sandbox environment variable's value. */
export const MASKED_ENV_VALUE = "********";

/**
 * A sandbox, as `GET /api/v1/vms/{id}` returns it.
 *
 * `env` lists the variable names the sandbox was created with, but the API replaces every value
 * with {@link MASKED_ENV_VALUE}: values often hold credentials and are readable only from inside
 * the sandbox. `workerId` is null until a worker takes it; `readyAt` is when its agent first
 * answered; `expiresAt` is when it is deleted automatically (null: never).
 */
export const vmSchema = z.object({
  id: vmIdSchema,
  name: resourceNameSchema,
  status: vmStatusSchema,
  backend: vmBackendSchema,
  image: z.string(),
  vcpus: z.number().int().positive(),
  memoryMb: z.number().int().positive(),
  diskMb: z.number().int().positive(),
  workerId: workerIdSchema.nullable(),
  labels: labelsSchema,
  env: z.record(z.string(), z.string()),
  network: networkPolicySchema,
  /**
   * Tools (mise specs) installed for the sandbox's user before it turned `running`. Optional so
   * that older servers' answers still parse.
   */
  tools: z.array(toolSpecSchema).optional(),
  createdAt: timestampSchema,
  readyAt: timestampSchema.nullable(),
  expiresAt: timestampSchema.nullable(),
  /**
   * What happens at `expiresAt`: `delete` (the default) or `pause`. Optional so that older
   * servers' answers still parse.
   */
  onTimeout: z.enum(["delete", "pause"]).optional(),
  stoppedAt: timestampSchema.nullable(),
  error: z.string().nullable(),
  /**
   * Why a `pending` sandbox is still waiting to be placed (for example
   * "waiting for capacity: all 1 workers full (2/2 vCPUs)"); null once a worker has claimed it.
   * Optional so that older servers' answers still parse.
   */
  pendingReason: z.string().nullable().optional(),
});

/** A sandbox (see {@link vmSchema}). */
export type Vm = z.infer<typeof vmSchema>;

/** The part of a sandbox the serving rule reads: its row and its API shape both have it. */
export interface ServableSandbox {
  readonly status: VmStatus;
  readonly workerId?: string | null;
}

/**
 * The worker that serves a sandbox's commands and files: the one it runs on. Null when nothing
 * can serve it now: it is not `running` (pending, stopped, deleted, lost…) or no worker took it.
 * The one statement of that rule, read by the gateway's router, the control plane and workers.
 */
export function servingWorker(vm: ServableSandbox): string | null {
  return vm.status === "running" && vm.workerId ? vm.workerId : null;
}

/** True when `workerId` serves the sandbox (see {@link servingWorker}). */
export function isServableBy(vm: ServableSandbox, workerId: string): boolean {
  return servingWorker(vm) === workerId;
}
