import { HandBackError, explainWait } from "@aetherium/core";
import type { Repositories, VmRow } from "@aetherium/core";

/** Statuses a create may claim a sandbox from: new, or left by an earlier attempt. */
export const CREATE_CLAIMABLE = ["pending", "creating", "failed"] as const;

/**
 * Claims the sandbox for `workerId` (→ `creating`) if it fits the worker's capacity, reserving it
 * atomically in the database: concurrent creates never overshoot, however late the heartbeats
 * are. With no room on this worker the sandbox records why it waits (`pendingReason`, counted
 * over every active worker of its backend) and a {@link HandBackError} gives the job back to its
 * queue, for this or another worker, without spending an attempt. Resolves to undefined when the
 * sandbox can no longer be claimed (deleted, running elsewhere…).
 */
export async function claimForCreate(
  repos: Repositories,
  row: VmRow,
  workerId: string,
): Promise<VmRow | undefined> {
  const r = await repos.vms.claimWithinCapacity(row.id, workerId, CREATE_CLAIMABLE, "creating");
  if (r.kind === "gone") return undefined;
  if (r.kind === "claimed") return r.row;
  const reason = await explainWait(repos, row);
  await repos.vms.setPendingReason(row.id, reason);
  throw new HandBackError(`worker ${workerId} has no room for sandbox ${row.id}: ${reason}`);
}
