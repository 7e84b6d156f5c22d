/**
 * The microVM guest image: the same root filesystem tree as the Docker base image
 * ({@link buildRootfsTree}, one recipe) as an ext4 disk image, plus a Debian kernel and a small
 * initramfs, each cached by what went into it under `<cacheDir>/vm`:
 *
 * - kernel: `apt-get download linux-image-<flavour>` (resolved to its versioned package) and
 *   `dpkg-deb -x`, never installed; its virtio drivers are modules, so the initramfs loads them.
 *   QEMU boots its `vmlinuz`; Firecracker needs the uncompressed ELF, `vmlinux`, extracted once
 *   beside it (`extract-vmlinux.ts`), and the drivers its guests need ({@link FIRECRACKER_DRIVERS})
 *   built in or among the initramfs's modules;
 * - initramfs: busybox (from `busybox-static`, fetched the same way), those modules and
 *   {@link INITRAMFS_INIT}, as a cpio archive;
 * - root disk: `mkfs.ext4 -d` of the tree plus `/sbin/aetherium-init`, no loop mounts, sized
 *   from the tree with a little headroom; each VM's overlay grows it by the sandbox's `diskMb`.
 * @module
 */
import { createHash } from "node:crypto";
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  agentEntrypoint,
  buildRootfsTree,
  type ImageBuildProgress,
  type RootfsTreeOptions,
} from "../image/build-base-image.js";
import { withDirLock } from "../image/dir-lock.js";
import { cpioArchive, type CpioEntry } from "./cpio-archive.js";
import { exists, fetchDebianPackage, resolveDebianPackage, runCommand } from "./debian-package.js";
import { extractVmlinux } from "./extract-vmlinux.js";
import { GUEST_MODULES, INITRAMFS_INIT, rootInit } from "./guest-init.js";

// Bump when the layout of the VM image changes without its inputs changing.
const VM_IMAGE_LAYOUT_VERSION = 2;

/**
 * Free space the root disk template keeps: what a VM has before its init grows the filesystem
 * to the overlay's size (the sandbox's `diskMb` more).
 */
export const TEMPLATE_HEADROOM_MB = 256;

/** The default kernel: Debian's cloud flavour, small and made for VMs. */
export const DEFAULT_KERNEL_PACKAGE = "linux-image-cloud-amd64";

/** One progress report of {@link buildVmImage}. */
export interface VmImageProgress {
  step: ImageBuildProgress["step"] | "kernel" | "initramfs" | "disk";
  message: string;
  percent?: number;
}

/** Options of {@link buildVmImage}. */
export interface VmImageOptions extends Omit<RootfsTreeOptions, "onProgress"> {
  /** Kernel metapackage or package; default {@link DEFAULT_KERNEL_PACKAGE}. */
  kernelPackage?: string;
  /** Free space on the template beyond the tree, in MiB; default {@link TEMPLATE_HEADROOM_MB}. */
  headroomMb?: number;
  onProgress?: (progress: VmImageProgress) => void;
}

/** A built VM image: what a VMM boots. */
export interface VmImage {
  /** The kernel (`vmlinuz`, a bzImage QEMU boots directly). */
  kernel: string;
  /**
   * The same kernel uncompressed (`vmlinux`, an ELF), what Firecracker boots; absent when the
   * kernel lacks a driver Firecracker guests need ({@link firecrackerUnsupported} says which).
   */
  vmlinux?: string;
  /** Why this image cannot boot under Firecracker; absent when it can. */
  firecrackerUnsupported?: string;
  /** The initramfs (uncompressed cpio). */
  initrd: string;
  /** The root disk template (raw ext4). Read-only: VMs get a copy-on-write overlay of it. */
  rootfs: string;
  /** The kernel's release (what `uname -r` says in the guest). */
  kernelRelease: string;
  /** Hash of everything that went into it. */
  key: string;
  cached: boolean;
}

/**
 * What a Firecracker guest needs of its kernel: the virtio-mmio transport (Firecracker has no
 * PCI), the block and network devices, and vsock for the agent. Each `CONFIG_` option, with the
 * module that provides it where it is not built in.
 */
export const FIRECRACKER_DRIVERS: readonly { option: string; module: string }[] = [
  { option: "VIRTIO_MMIO", module: "kernel/drivers/virtio/virtio_mmio.ko" },
  { option: "VIRTIO_BLK", module: "kernel/drivers/block/virtio_blk.ko" },
  { option: "VIRTIO_NET", module: "kernel/drivers/net/virtio_net.ko" },
  { option: "VSOCKETS", module: "kernel/net/vmw_vsock/vsock.ko" },
  {
    option: "VIRTIO_VSOCKETS",
    module: "kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko",
  },
];

/**
 * Why a kernel (its `config-<release>` text and its modules directory) cannot run a Firecracker
 * guest, or undefined when it can: each of {@link FIRECRACKER_DRIVERS} must be built in (`=y`)
 * or a module the initramfs loads ({@link GUEST_MODULES}) that the package has.
 */
export async function firecrackerUnsupported(
  kernelConfig: string,
  modulesDir: string,
): Promise<string | undefined> {
  const missing: string[] = [];
  for (const { option, module } of FIRECRACKER_DRIVERS) {
    const value = new RegExp(`^CONFIG_${option}=(y|m)$`, "m").exec(kernelConfig)?.[1];
    if (value === "y") continue;
    if (
      value === "m" &&
      GUEST_MODULES.includes(module) &&
      (await exists(path.join(modulesDir, module)))
    ) {
      continue;
    }
    missing.push(`CONFIG_${option}`);
  }
  return missing.length === 0
    ? undefined
    : `the kernel lacks ${missing.join(", ")} (built in, or as a module the initramfs loads)`;
}

/** Extracts `vmlinux` from `vmlinuz` unless done before; checks it is the package's release. */
async function ensureVmlinux(
  vmlinuz: string,
  vmlinux: string,
  release: string,
  report: (progress: VmImageProgress) => void,
): Promise<undefined> {
  if (await exists(vmlinux)) return undefined;
  report({ step: "kernel", message: "extracting vmlinux for Firecracker" });
  const found = await extractVmlinux(vmlinuz, vmlinux);
  if (found.release !== release) {
    await rm(vmlinux, { force: true });
    throw new Error(`${vmlinuz} holds kernel ${found.release}, not ${release}`);
  }
  report({ step: "kernel", message: `vmlinux extracted (${found.compression} payload)` });
  return undefined;
}

/** Where {@link buildVmImage} keeps its output for a cache dir: `<cacheDir>/vm`. */
export function vmImageDir(cacheDir: string): string {
  return path.join(path.resolve(cacheDir), "vm");
}

/** The image {@link buildVmImage} last built in `cacheDir`, if any (the `current` pointer). */
export async function findVmImage(cacheDir: string): Promise<VmImage | undefined> {
  const file = path.join(vmImageDir(cacheDir), "current.json");
  const text = await readFile(file, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const image = JSON.parse(text) as VmImage;
  for (const f of [image.kernel, image.initrd, image.rootfs, image.vmlinux ?? image.kernel]) {
    if (!(await exists(f))) return undefined;
  }
  return { ...image, cached: true };
}

function sha256(value: string | Buffer): string {
  return createHash("sha256").update(value).digest("hex");
}

/** Size of a tree in MiB (hard links counted once), as `du` sees it. */
async function treeSizeMb(dir: string): Promise<number> {
  const out = await runCommand("du", ["-s", "--block-size=1M", dir]);
  return Number(out.split(/\s/)[0]);
}

/**
 * Keeps the `keep` newest images besides `current` (each is a disk of ~0.5 GB). VMs are not
 * affected: their overlays are backed by hard links to their template (see the QEMU backend).
 */
async function pruneImages(dir: string, current: string, keep: number): Promise<void> {
  const names = (await readdir(dir)).filter((n) => n !== current);
  const dated = await Promise.all(
    names.map(async (name) => ({ name, mtime: (await stat(path.join(dir, name))).mtimeMs })),
  );
  dated.sort((a, b) => b.mtime - a.mtime);
  for (const { name } of dated.slice(keep)) {
    await rm(path.join(dir, name), { recursive: true, force: true });
  }
}

/**
 * Builds (or finds) the VM image for the current tree: kernel, initramfs and root disk. Holds
 * the cache's build lock for the image step, as the tree build does for its own.
 */
export async function buildVmImage(options: VmImageOptions): Promise<VmImage> {
  const cacheDir = path.resolve(options.cacheDir);
  const report = options.onProgress ?? (() => {});
  const tree = await buildRootfsTree({ ...options, cacheDir, onProgress: report });
  const vmDir = vmImageDir(cacheDir);
  await mkdir(vmDir, { recursive: true });
  return withDirLock(
    path.join(vmDir, "build.lock"),
    async () => {
      report({ step: "kernel", message: "resolving the kernel package", percent: 0 });
      const kernelPkg = await resolveDebianPackage(
        options.kernelPackage ?? DEFAULT_KERNEL_PACKAGE,
        /^linux-image-\d/,
      );
      const kernelDir = path.join(vmDir, "kernel", `${kernelPkg.name}_${kernelPkg.version}`);
      report({ step: "kernel", message: `kernel ${kernelPkg.name} ${kernelPkg.version}` });
      const kernel = await fetchDebianPackage(kernelPkg, kernelDir, (line) =>
        report({ step: "kernel", message: line }),
      );
      const busyboxPkg = await resolveDebianPackage("busybox-static", /^busybox-static$/);
      const busybox = await fetchDebianPackage(
        busyboxPkg,
        path.join(vmDir, "busybox", busyboxPkg.version),
      );
      report({
        step: "kernel",
        message: kernel.cached ? "reusing the extracted kernel" : "kernel extracted",
        percent: 100,
      });
      const release = kernelPkg.name.replace(/^linux-image-/, "");
      const vmlinuz = path.join(kernel.dir, "root", "boot", `vmlinuz-${release}`);
      const modulesDir = path.join(kernel.dir, "root", "lib", "modules", release);
      const kernelConfig = await readFile(
        path.join(kernel.dir, "root", "boot", `config-${release}`),
        "utf8",
      ).catch(() => "");
      let unsupported = await firecrackerUnsupported(kernelConfig, modulesDir);
      let vmlinux: string | undefined;
      if (unsupported === undefined) {
        vmlinux = path.join(kernel.dir, "vmlinux");
        // QEMU needs no vmlinux: a failed extraction (a decompressor not installed) leaves the
        // image for QEMU, with the reason Firecracker cannot boot it.
        unsupported = await ensureVmlinux(vmlinuz, vmlinux, release, report).catch(
          (err: unknown) => `extracting vmlinux failed: ${(err as Error).message}`,
        );
        if (unsupported !== undefined) vmlinux = undefined;
      }
      if (unsupported !== undefined) {
        report({ step: "kernel", message: `no Firecracker kernel: ${unsupported}` });
      }

      // The agent starts as a script: its startup snapshot is tied to the CPU features of the
      // host that built it, and a guest CPU (TCG's especially) has others, so V8 refuses it.
      const init = rootInit(agentEntrypoint(false));
      const key = sha256(
        JSON.stringify({
          layout: VM_IMAGE_LAYOUT_VERSION,
          tree: tree.key,
          kernel: kernelPkg,
          busybox: busyboxPkg,
          init,
          initramfs: INITRAMFS_INIT,
          modules: GUEST_MODULES,
          headroom: options.headroomMb ?? TEMPLATE_HEADROOM_MB,
        }),
      ).slice(0, 32);
      const dir = path.join(vmDir, "images", key);
      const image: VmImage = {
        kernel: vmlinuz,
        ...(vmlinux === undefined ? {} : { vmlinux }),
        ...(unsupported === undefined ? {} : { firecrackerUnsupported: unsupported }),
        initrd: path.join(dir, "initrd.cpio"),
        rootfs: path.join(dir, "rootfs.ext4"),
        kernelRelease: release,
        key,
        cached: true,
      };
      if (await exists(dir)) {
        report({ step: "disk", message: `reusing cached VM image ${key}`, percent: 100 });
        await writeFile(path.join(vmDir, "current.json"), JSON.stringify(image));
        return image;
      }
      const partial = `${dir}.partial`;
      await rm(partial, { recursive: true, force: true });
      await mkdir(partial, { recursive: true });

      report({ step: "initramfs", message: "writing the initramfs", percent: 0 });
      const entries: CpioEntry[] = [
        { path: "bin", type: "dir" },
        { path: "modules", type: "dir" },
        {
          path: "bin/busybox",
          type: "file",
          data: await readFile(path.join(busybox.dir, "root", "bin", "busybox")),
          mode: 0o755,
        },
        { path: "init", type: "file", data: Buffer.from(INITRAMFS_INIT), mode: 0o755 },
      ];
      const order: string[] = [];
      for (const module of GUEST_MODULES) {
        const file = path.join(modulesDir, module);
        if (!(await exists(file))) continue;
        const name = path.basename(module);
        order.push(name);
        entries.push({ path: `modules/${name}`, type: "file", data: await readFile(file) });
      }
      entries.push({ path: "modules.order", type: "file", data: Buffer.from(order.join("\n")) });
      await writeFile(path.join(partial, "initrd.cpio"), cpioArchive(entries));

      // The tree is shared by hard links with the cache: stage the init beside a linked copy.
      report({ step: "disk", message: "staging the root filesystem", percent: 10 });
      const staging = path.join(partial, "staging");
      await runCommand("cp", ["-al", tree.dir, staging]);
      const initPath = path.join(staging, "sbin", "aetherium-init");
      await rm(initPath, { force: true });
      await writeFile(initPath, init);
      await chmod(initPath, 0o755);
      const sizeMb =
        Math.ceil((await treeSizeMb(staging)) * 1.15) +
        (options.headroomMb ?? TEMPLATE_HEADROOM_MB);
      report({ step: "disk", message: `mkfs.ext4 -d (${sizeMb} MiB)`, percent: 30 });
      await runCommand("mkfs.ext4", [
        "-q",
        "-F",
        "-L",
        "aetherium",
        "-E",
        "root_owner=0:0",
        "-d",
        staging,
        path.join(partial, "rootfs.ext4"),
        `${sizeMb}M`,
      ]);
      await rm(staging, { recursive: true, force: true });
      await rename(partial, dir);
      await pruneImages(path.join(vmDir, "images"), key, 2);
      await writeFile(path.join(vmDir, "current.json"), JSON.stringify(image));
      const size = (await stat(image.rootfs)).blocks * 512;
      report({
        step: "disk",
        message: `VM image ${key} built (${Math.round(size / 2 ** 20)} MiB on disk)`,
        percent: 100,
      });
      return { ...image, cached: false };
    },
    { onWait: () => report({ step: "lock", message: "waiting for another VM image build" }) },
  );
}
