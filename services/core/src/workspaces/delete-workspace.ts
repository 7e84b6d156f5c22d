import type { WorkspaceJobDeps } from "./prepare-workspace.js";
import type { WorkspaceService } from "./workspace-service.js";

/**
 * The `workspace:delete` job, on the worker holding the sandbox: removes the sandbox, then the
 * workspace with its steps, secrets and prompt history. Running it again finishes what an
 * interrupted run left.
 */
export async function deleteWorkspace(
  deps: Pick<WorkspaceJobDeps, "host" | "repos" | "vms">,
  workspaces: Pick<WorkspaceService, "removeRecord">,
  payload: { workspaceId: string; vmId: string | null },
): Promise<{ workspaceId: string; status: "deleted" }> {
  if (payload.vmId) {
    const vm = await deps.repos.vms.get(payload.vmId);
    if (vm && vm.status !== "deleted") {
      if (vm.workerId === deps.host.workerId) await deps.host.delete(vm.id);
      // Not (or no longer) here: the sandbox service routes its deletion to where it is.
      else await deps.vms.delete(vm.id);
    }
  }
  await workspaces.removeRecord(payload.workspaceId);
  return { workspaceId: payload.workspaceId, status: "deleted" };
}
