import path from "node:path";
import type { BackendOpener } from "../backends/backend-registry.js";
import { findVmImage } from "../vm-image/build-vm-image.js";
import { openVmNetwork } from "../vm-network/open-vm-network.js";
import { QemuBackend } from "./qemu-backend.js";

/** The command that builds what the QEMU backend boots. */
export const VM_IMAGE_BUILD_COMMAND = "aetherium image build --vm";

function accelFrom(value: string | undefined): "kvm" | "tcg" | "auto" {
  return value === "kvm" || value === "tcg" ? value : "auto";
}

/**
 * The QEMU microVM backend, ready when `qemu-system-x86_64` exists (the probe), the VM image
 * was built into `<home>/cache/image` ({@link VM_IMAGE_BUILD_COMMAND}) and the VM network
 * (`sandbox.vmNetwork`: bridge, rules, egress proxy, addresses leased in the control plane's
 * database) could be set up: a worker that cannot enforce a VM's egress policy takes no VMs.
 * VMs keep their run directories in `<home>/qemu`. `AETHERIUM_QEMU_ACCEL` (`kvm`, `tcg`, default
 * `auto`: KVM when `/dev/kvm` runs a guest, see `QemuBackend.accel`) forces the accelerator.
 */
export const openQemuBackend: BackendOpener = async ({
  probe,
  config,
  logger,
  repos,
  workerId,
}) => {
  const image = await findVmImage(path.resolve(config.home, "cache", "image"));
  if (image === undefined) {
    return {
      ready: false,
      detail: `${probe.detail}, but the VM image is missing: run \`${VM_IMAGE_BUILD_COMMAND}\``,
    };
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
  const accel = accelFrom(process.env.AETHERIUM_QEMU_ACCEL);
  const backend = new QemuBackend({
    stateDir: path.resolve(config.home, "qemu"),
    image,
    accel,
    attachNetwork: async (sandboxId, egress) => {
      const a = await network.attach(sandboxId, egress);
      return {
        tap: a.tap,
        mac: a.mac,
        address: a.guestIp,
        prefixLength: a.prefix,
        gateway: a.gateway,
        ...(a.dns === undefined ? {} : { dns: a.dns }),
        ...(a.proxyUrl === undefined ? {} : { proxyUrl: a.proxyUrl }),
      };
    },
    detachNetwork: (sandboxId) => network.detach(sandboxId),
    reconcileNetwork: (live) => network.reconcile(live),
    close: () => network.close(),
    logger,
  });
  return {
    ready: true,
    backend,
    detail: `${probe.detail}, kernel ${image.kernelRelease}, VM image ${image.key}, ${await backend.accel()}, VM bridge ${network.bridge} (${network.subnet})`,
  };
};
