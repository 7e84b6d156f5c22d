import type { BackendContext } from "../backends/backend-registry.js";
import { VmNetwork } from "./vm-network.js";

/**
 * The VM network a microVM backend's opener needs, set up from `sandbox.vmNetwork`, or why it
 * cannot be: addresses are leased in the control plane's database, and a worker that cannot
 * install the bridge, its rules and the egress proxy cannot enforce a VM's egress policy, so its
 * VM backends take no VMs.
 */
export async function openVmNetwork(
  context: Pick<BackendContext, "config" | "logger" | "repos" | "workerId">,
): Promise<
  | { readonly network: VmNetwork }
  | { readonly failed: string; readonly close?: () => Promise<void> }
> {
  const { config, logger, repos, workerId } = context;
  if (repos === undefined || workerId === undefined) {
    return { failed: "it needs the control plane's database" };
  }
  const network = new VmNetwork({
    bridge: config.sandbox.vmNetwork.bridge,
    subnet: config.sandbox.vmNetwork.subnet,
    leases: repos.vmNetworkLeases,
    workerId,
    proxyPort: config.sandbox.egressProxyPort,
    logger,
  });
  const failed = await network.ready().then(
    () => undefined,
    (err: unknown) => (err as Error).message,
  );
  if (failed !== undefined) {
    return { failed: `the VM network cannot be set up: ${failed}`, close: () => network.close() };
  }
  return { network };
}
