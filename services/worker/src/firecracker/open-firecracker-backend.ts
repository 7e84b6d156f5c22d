import { access, constants } from "node:fs/promises";
import path from "node:path";
import type { BackendOpener } from "../backends/backend-registry.js";
import { openVmNetwork } from "../vm-network/open-vm-network.js";
import { FirecrackerBackend } from "./firecracker-backend.js";

const exists = (file: string) =>
  access(file, constants.R_OK).then(
    () => true,
    () => false,
  );

/** Why no Firecracker guest can run a command yet; the opener says so instead of offering it. */
const FIRECRACKER_GUEST_AGENT = "not built yet: planned";

/**
 * The Firecracker backend, offered once its guest image's agent serves vsock (not built yet); it
 * will then be ready when the probe found KVM and the binary, the kernel and root
 * filesystem configured in `sandbox.firecracker` exist, and the VM network (bridge, rules, egress
 * proxy) could be set up: a worker that cannot enforce a VM's egress policy takes no VMs.
 */
export const openFirecrackerBackend: BackendOpener = async ({
  probe,
  config,
  logger,
  repos,
  workerId,
}) => {
  const fc = config.sandbox.firecracker;
  const missing = [
    fc.kernel === undefined || !(await exists(fc.kernel))
      ? `a guest kernel (sandbox.firecracker.kernel${fc.kernel ? `: ${fc.kernel} is missing` : " is not set"})`
      : undefined,
    fc.rootfs === undefined || !(await exists(fc.rootfs))
      ? `a root filesystem image (sandbox.firecracker.rootfs${fc.rootfs ? `: ${fc.rootfs} is missing` : " is not set"})`
      : undefined,
    repos === undefined || workerId === undefined ? "the control plane's database" : undefined,
    // The guest image's agent serves virtio-serial (QEMU), not vsock, and nothing hands a
    // Firecracker guest its agent token yet: offering the backend would accept creates whose
    // agent never answers.
    `a guest image whose agent serves vsock (${FIRECRACKER_GUEST_AGENT})`,
  ].filter((m): m is string => m !== undefined);
  if (missing.length > 0 || fc.kernel === undefined || fc.rootfs === undefined) {
    return { ready: false, detail: `${probe.detail}, but it needs ${missing.join(" and ")}` };
  }
  const opened = await openVmNetwork({ config, logger, repos, workerId });
  if ("failed" in opened) {
    return {
      ready: false,
      detail: `${probe.detail}, but ${opened.failed}`,
      ...(opened.close ? { close: opened.close } : {}),
    };
  }
  const { network } = opened;
  const backend = new FirecrackerBackend({
    binary: fc.binary,
    kernelPath: fc.kernel,
    rootfsPath: fc.rootfs,
    stateDir: fc.stateDir ?? path.resolve(config.home, "firecracker"),
    ...(fc.jailer
      ? {
          jailer: {
            ...fc.jailer,
            cgroupVersion: fc.jailer.cgroupVersion === 1 ? (1 as const) : (2 as const),
          },
        }
      : {}),
    network,
    logger,
  });
  return {
    ready: true,
    backend,
    detail: `${probe.detail}, kernel ${fc.kernel}, root filesystem ${fc.rootfs}, VM bridge ${network.bridge} (${network.subnet})`,
  };
};
