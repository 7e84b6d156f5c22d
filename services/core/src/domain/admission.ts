import type { Repositories } from "../storage/repositories/create-repositories.js";
import { waitingReason, type VmRow } from "../storage/repositories/vms.js";

/** The zone of a create queue (`create.<backend>.<zone>`), if it names one. */
export function zoneOfCreateQueue(queue: string | undefined): string | undefined {
  const parts = queue?.split(".") ?? [];
  return parts[0] === "create" && parts.length > 2 ? parts.slice(2).join(".") : undefined;
}

/**
 * Why a `pending` sandbox is not placed yet, counted now from the workers that could take its
 * create (its backend, and its zone when the create asked for one) and their live sandboxes.
 */
export async function explainWait(repos: Repositories, row: VmRow): Promise<string> {
  const tasks = await repos.tasks.list({
    vmId: row.id,
    type: "vm:create",
    status: ["pending", "queued", "running"],
    limit: 1,
  });
  const zone = zoneOfCreateQueue(tasks.items[0]?.queue);
  const backend = row.backend ?? "docker";
  const fleet = await repos.vms.fleetCapacity(backend, zone);
  return waitingReason(fleet, row, zone ? ` in zone "${zone}"` : "");
}
