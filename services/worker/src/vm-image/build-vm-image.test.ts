import { execFile } from "node:child_process";
import { access, constants, readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { buildAgentBundle } from "../image/build-agent.js";
import { buildVmImage, findVmImage, type VmImage } from "./build-vm-image.js";
import { GUEST_AGENT_SOCKET, VSOCK_BOOT_ARG } from "./guest-init.js";

const run = promisify(execFile);
// Same cache as the Docker image and QEMU tests: one rootfs tree for every image.
const CACHE_DIR = path.resolve(import.meta.dirname, "../../../../.aetherium/cache/image");

const canExec = (file: string) =>
  access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
const missing = [
  ...((await canExec("/usr/sbin/debootstrap")) ? [] : ["debootstrap"]),
  ...((await canExec("/usr/sbin/mkfs.ext4")) ? [] : ["mkfs.ext4 (e2fsprogs)"]),
  ...((await canExec("/usr/sbin/debugfs")) ? [] : ["debugfs (e2fsprogs)"]),
  ...(process.getuid?.() === 0 ? [] : ["root"]),
];
if (missing.length > 0) console.warn(`skipping VM image tests: missing ${missing.join(", ")}`);

/** The data of `name` in a newc cpio archive (the initramfs), read as the kernel unpacks it. */
function cpioFile(archive: Buffer, name: string): Buffer | undefined {
  const align = (n: number) => Math.ceil(n / 4) * 4;
  for (let at = 0; at + 110 <= archive.length;) {
    const field = (i: number) =>
      parseInt(archive.toString("latin1", at + 6 + i * 8, at + 14 + i * 8), 16);
    const size = field(6);
    const nameSize = field(11);
    const entry = archive.toString("latin1", at + 110, at + 110 + nameSize - 1);
    const data = align(at + 110 + nameSize);
    if (entry === name) return archive.subarray(data, data + size);
    if (entry === "TRAILER!!!") return undefined;
    at = align(data + size);
  }
  return undefined;
}

/** Runs one `debugfs` request against the image, read-only (no mount). */
async function debugfs(image: string, request: string): Promise<string> {
  const { stdout } = await run("debugfs", ["-R", request, image], {
    maxBuffer: 64 * 2 ** 20,
  });
  return stdout;
}

describe.skipIf(missing.length > 0)("the VM image, for Firecracker as for QEMU", () => {
  let image: VmImage;

  beforeAll(async () => {
    const agent = await buildAgentBundle();
    image = await buildVmImage({ agentFile: agent.path, cacheDir: CACHE_DIR });
  }, 900_000);

  it("has socat in the root filesystem, and the init that bridges vsock to the agent with it", async () => {
    const socat = await debugfs(image.rootfs, "stat /usr/bin/socat");
    expect(socat).toMatch(/Type: regular/);
    expect(socat).toMatch(/Mode:\s+0755/);
    const init = await debugfs(image.rootfs, "cat /sbin/aetherium-init");
    expect(init).toContain(
      `socat "VSOCK-LISTEN:$1,reuseaddr,fork" 'UNIX-CONNECT:${GUEST_AGENT_SOCKET}'`,
    );
    expect(init).toContain(`^${VSOCK_BOOT_ARG.replace(".", "\\.")}=`);
    expect(await debugfs(image.rootfs, "stat /sbin/aetherium-init")).toMatch(/Mode:\s+0755/);
  });

  it("has the vmlinux Firecracker boots, and an initramfs that loads the vsock transport", async () => {
    expect(image.firecrackerUnsupported).toBeUndefined();
    const vmlinux = image.vmlinux ?? "";
    const { stdout } = await run("file", ["-b", vmlinux]);
    expect(stdout).toMatch(/^ELF 64-bit LSB executable, x86-64/);
    const order = cpioFile(await readFile(image.initrd), "modules.order");
    expect(order?.toString().split("\n")).toEqual(
      expect.arrayContaining([
        "virtio_mmio.ko",
        "virtio_blk.ko",
        "virtio_net.ko",
        "vsock.ko",
        "vmw_vsock_virtio_transport_common.ko",
        "vmw_vsock_virtio_transport.ko",
      ]),
    );
    // The worker's opener finds the same image, vmlinux included.
    expect((await findVmImage(CACHE_DIR))?.vmlinux).toBe(image.vmlinux);
  });
});
