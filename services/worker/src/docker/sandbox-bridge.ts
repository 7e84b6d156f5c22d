import { UnavailableError } from "@aetherium/common";
import type Docker from "dockerode";
import { isolateBridgeFromHost } from "../network/host-firewall.js";
import { SANDBOX_LABELS } from "./container-spec.js";
import { engineStatus, mapDockerError } from "./docker-errors.js";

/**
 * Creates the bridge `network` that sandboxes with egress share if the engine lacks it (no
 * inter-container traffic on it), and shuts the host to it (see `isolateBridgeFromHost`):
 * sandboxes reach the outside world, never the host's own services. Fails with
 * UnavailableError when the firewall rules cannot be installed.
 */
export async function ensureSandboxBridge(docker: Docker, network: string): Promise<void> {
  const context = { operation: `create network ${network}` };
  const inspect = async (): Promise<{ EnableIPv6?: boolean } | undefined> => {
    try {
      return await docker.getNetwork(network).inspect();
    } catch (err) {
      if (engineStatus(err) !== 404) throw mapDockerError(err, context);
      return undefined;
    }
  };
  let info = await inspect();
  if (info === undefined) {
    try {
      await docker.createNetwork({
        Name: network,
        Driver: "bridge",
        CheckDuplicate: true,
        Options: {
          "com.docker.network.bridge.name": network,
          // Sandboxes reach the internet, never each other.
          "com.docker.network.bridge.enable_icc": "false",
        },
        Labels: { [SANDBOX_LABELS.managed]: "true" },
      });
    } catch (err) {
      // Another worker process created it between our inspect and create.
      if (engineStatus(err) !== 409) throw mapDockerError(err, context);
    }
    info = await inspect();
  }
  try {
    await isolateBridgeFromHost(network, { ipv6: info?.EnableIPv6 === true });
  } catch (err) {
    throw new UnavailableError(
      `sandboxes cannot be kept from the host's services on this worker: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
