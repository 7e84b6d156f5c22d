import { access, constants } from "node:fs/promises";
import path from "node:path";
import type { Config } from "@aetherium/common";
import type { BackendOpener } from "../backends/backend-registry.js";
import { VM_IMAGE_BUILD_COMMAND } from "../qemu/open-qemu-backend.js";
import { findVmImage } from "../vm-image/build-vm-image.js";
import { openVmNetwork } from "../vm-network/open-vm-network.js";
import { FirecrackerBackend } from "./firecracker-backend.js";

const readable = (file: string) =>
  access(file, constants.R_OK).then(
    () => true,
    () => false,
  );

/** What a Firecracker VM boots, or what is missing for it. */
type FirecrackerGuest =
  | { readonly kernel: string; readonly initrd?: string; readonly rootfs: string }
  | { readonly missing: string };

/**
 * The guest: the VM image's (`aetherium image build --vm`: `vmlinux`, initramfs, root disk
 * template, the same image QEMU boots), where `sandbox.firecracker.kernel` / `.rootfs` name no
 * other. A configured kernel boots without the image's initramfs (which holds the image kernel's
 * modules), so it must have the virtio and vsock drivers built in.
 */
async function firecrackerGuest(config: Config): Promise<FirecrackerGuest> {
  const fc = config.sandbox.firecracker;
  for (const [setting, file] of [
    ["kernel", fc.kernel],
    ["rootfs", fc.rootfs],
  ] as const) {
    if (file !== undefined && !(await readable(file))) {
      return { missing: `sandbox.firecracker.${setting} ${file} is missing` };
    }
  }
  if (fc.kernel !== undefined && fc.rootfs !== undefined) {
    return { kernel: fc.kernel, rootfs: fc.rootfs };
  }
  const image = await findVmImage(path.resolve(config.home, "cache", "image"));
  if (image === undefined) {
    return { missing: `the VM image is missing: run \`${VM_IMAGE_BUILD_COMMAND}\`` };
  }
  if (fc.kernel === undefined && image.vmlinux === undefined) {
    return {
      missing: `the VM image's kernel cannot boot under Firecracker: ${
        image.firecrackerUnsupported ?? `no vmlinux (rebuild it: \`${VM_IMAGE_BUILD_COMMAND}\`)`
      }`,
    };
  }
  return fc.kernel === undefined
    ? { kernel: image.vmlinux ?? "", initrd: image.initrd, rootfs: fc.rootfs ?? image.rootfs }
    : { kernel: fc.kernel, rootfs: image.rootfs };
}

/**
 * The Firecracker backend, ready where the probe found a usable `/dev/kvm` and the
 * `sandbox.firecracker.binary`, the guest exists (see {@link firecrackerGuest}) and the VM network
 * (bridge, rules, egress proxy, addresses leased in the control plane's database) could be set
 * up: a worker that cannot enforce a VM's egress policy takes no VMs. Otherwise it is not
 * offered, and its status says what is missing.
 */
export const openFirecrackerBackend: BackendOpener = async ({
  probe,
  config,
  logger,
  repos,
  workerId,
}) => {
  const fc = config.sandbox.firecracker;
  const guest = await firecrackerGuest(config);
  if ("missing" in guest) return { ready: false, detail: `${probe.detail}, but ${guest.missing}` };
  if (repos === undefined || workerId === undefined) {
    return { ready: false, detail: `${probe.detail}, but it needs the control plane's database` };
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
    kernelPath: guest.kernel,
    ...(guest.initrd === undefined ? {} : { initrdPath: guest.initrd }),
    rootfsPath: guest.rootfs,
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
    detail: `${probe.detail}, kernel ${guest.kernel}, root filesystem ${guest.rootfs}, VM bridge ${network.bridge} (${network.subnet})`,
  };
};
