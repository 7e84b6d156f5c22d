import { DEFAULT_NETWORK_POLICY, type Environment } from "@aetherium/types";

/** The label that ties a sandbox to the workspace it serves. */
const WORKSPACE_LABEL = "aetherium.workspace";

/**
 * The `POST /vms` body of a workspace's sandbox, from its environment snapshot: backend, image,
 * size, plain env and network. No timeout: the workspace's idle stop manages it, and only the
 * workspace's deletion removes it.
 */
export function sandboxBodyOf(spec: Environment, workspaceId: string): Record<string, unknown> {
  return {
    ...(spec.backend ? { backend: spec.backend } : {}),
    ...(spec.image ? { image: spec.image } : {}),
    vcpus: spec.vcpus,
    memoryMb: spec.memoryMb,
    ...(spec.diskMb ? { diskMb: spec.diskMb } : {}),
    env: spec.env ?? {},
    network: spec.network ?? DEFAULT_NETWORK_POLICY,
    labels: { [WORKSPACE_LABEL]: workspaceId },
  };
}
