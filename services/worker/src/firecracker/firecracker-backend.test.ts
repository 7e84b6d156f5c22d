import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createLogger, loadConfig } from "@aetherium/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForAgent } from "../agent-client/wait-for-agent.js";
import { openBackends } from "../backends/backend-registry.js";
import { detectBackends } from "../backends/detect-backends.js";
import { buildAgentBundle } from "../image/build-agent.js";
import { VM_IMAGE_BUILD_COMMAND } from "../qemu/open-qemu-backend.js";
import { buildVmImage, type VmImage } from "../vm-image/build-vm-image.js";
import { FirecrackerBackend } from "./firecracker-backend.js";
import { openFirecrackerBackend } from "./open-firecracker-backend.js";

const run = promisify(execFile);
const logger = createLogger({ service: "firecracker-test", level: "silent" });
// Same cache as the Docker image and QEMU tests: one rootfs tree for every image.
const CACHE_DIR = path.resolve(import.meta.dirname, "../../../../.aetherium/cache/image");
const fcProbe = (await detectBackends()).find((p) => p.backend === "firecracker");
const canBuildImage =
  process.getuid?.() === 0 &&
  (await stat("/usr/sbin/debootstrap").then(
    () => true,
    () => false,
  ));
// Where KVM and the binary exist this boots real VMs; elsewhere it says, in one line, what is
// missing (here: /dev/kvm and a `firecracker` binary, which Debian does not package).
const bootable = fcProbe?.available !== true ? fcProbe?.detail : undefined;
if (bootable !== undefined) console.log(`Firecracker boot tests skipped: ${bootable}`);

describe("offering Firecracker", () => {
  const homes: string[] = [];
  afterAll(async () => {
    for (const home of homes) await rm(home, { recursive: true, force: true });
  });
  const tempHome = async () => {
    const home = await mkdtemp(path.join(tmpdir(), "aeth-fc-home-"));
    homes.push(home);
    return home;
  };
  const open = (home: string, env: Record<string, string> = {}) =>
    openFirecrackerBackend({
      probe: { backend: "firecracker", available: true, detail: "KVM and /usr/bin/firecracker" },
      config: loadConfig({ env: { AETHERIUM_HOME: home, ...env } }),
      image: "unused",
      logger,
    });

  it("is not offered without a usable /dev/kvm, even with the binary, and says so", async () => {
    const home = await tempHome();
    // A real executable stands in for the binary: only KVM is missing.
    const { opened, status } = await openBackends(
      { firecracker: openFirecrackerBackend },
      { config: loadConfig({ env: { AETHERIUM_HOME: home } }), image: "unused", logger },
      (
        await detectBackends({ kvmDevice: path.join(home, "kvm"), firecrackerBinary: "/bin/true" })
      ).filter((p) => p.backend === "firecracker"),
    );
    expect(opened).toEqual([]);
    expect(status).toEqual([
      {
        backend: "firecracker",
        ready: false,
        detail: `${path.join(home, "kvm")} is missing or not readable and writable: Firecracker needs KVM`,
      },
    ]);
  });

  it("looks for the configured binary, by path or on PATH", async () => {
    const home = await tempHome();
    await writeFile(path.join(home, "kvm"), "");
    const [missing] = (
      await detectBackends({
        kvmDevice: path.join(home, "kvm"),
        firecrackerBinary: "/opt/fc/firecracker",
      })
    ).filter((p) => p.backend === "firecracker");
    expect(missing).toEqual({
      backend: "firecracker",
      available: false,
      detail: "firecracker binary /opt/fc/firecracker not found (sandbox.firecracker.binary)",
    });
    const [found] = (
      await detectBackends({ kvmDevice: path.join(home, "kvm"), firecrackerBinary: "/bin/true" })
    ).filter((p) => p.backend === "firecracker");
    expect(found).toEqual({ backend: "firecracker", available: true, detail: "KVM and /bin/true" });
  });

  it("is not offered without the VM image, and names the command that builds it", async () => {
    const opened = await open(await tempHome());
    expect(opened.ready).toBe(false);
    expect(opened.detail).toContain(`the VM image is missing: run \`${VM_IMAGE_BUILD_COMMAND}\``);
  });

  it("is not offered when the image's kernel lacks a driver Firecracker guests need", async () => {
    const home = await tempHome();
    const vm = path.join(home, "cache", "image", "vm");
    await mkdir(vm, { recursive: true });
    const file = path.join(vm, "file");
    await writeFile(file, "");
    await writeFile(
      path.join(vm, "current.json"),
      JSON.stringify({
        kernel: file,
        initrd: file,
        rootfs: file,
        kernelRelease: "6.1.0-test",
        key: "k",
        firecrackerUnsupported: "the kernel lacks CONFIG_VIRTIO_VSOCKETS",
      }),
    );
    const opened = await open(home);
    expect(opened.ready).toBe(false);
    expect(opened.detail).toContain(
      "the VM image's kernel cannot boot under Firecracker: the kernel lacks CONFIG_VIRTIO_VSOCKETS",
    );
  });

  it("names a configured kernel or root filesystem that is missing", async () => {
    const opened = await open(await tempHome(), {
      AETHERIUM_SANDBOX__FIRECRACKER__KERNEL: "/nonexistent/vmlinux",
    });
    expect(opened.ready).toBe(false);
    expect(opened.detail).toContain("sandbox.firecracker.kernel /nonexistent/vmlinux is missing");
  });
});

describe.skipIf(!canBuildImage)("Firecracker VM disks (no VMM needed)", () => {
  let image: VmImage;
  let stateDir: string;
  let backend: FirecrackerBackend;

  beforeAll(async () => {
    const agent = await buildAgentBundle();
    image = await buildVmImage({ agentFile: agent.path, cacheDir: CACHE_DIR });
    stateDir = await mkdtemp(path.join(tmpdir(), "aeth-fc-disks-"));
    backend = new FirecrackerBackend({
      binary: "firecracker",
      kernelPath: image.vmlinux ?? "",
      initrdPath: image.initrd,
      rootfsPath: image.rootfs,
      stateDir,
      logger,
    });
  }, 900_000);

  afterAll(async () => {
    if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
  });

  it("gives each VM a sparse copy of the template, grown by its disk size, removed with the VM", async () => {
    const sandboxId = "fc-disk-1";
    await backend.create({ sandboxId, workerId: "w-fc", vcpus: 1, memoryMb: 256, diskMb: 64 });
    const disk = path.join(stateDir, sandboxId, "rootfs.ext4");
    const [copy, template] = await Promise.all([stat(disk), stat(image.rootfs)]);
    expect(copy.size).toBe(template.size + 64 * 2 ** 20);
    // Sparse (or reflinked): no more blocks than the template's.
    expect(copy.blocks).toBeLessThanOrEqual(template.blocks);
    // The copy is an ext4 filesystem holding the guest's init.
    const { stdout } = await run("debugfs", ["-R", "stat /sbin/aetherium-init", disk]);
    expect(stdout).toMatch(/Type: regular/);
    expect((await backend.inspect(sandboxId)).state).toBe("created");
    await backend.remove(sandboxId);
    expect(await readdir(stateDir)).toEqual([]);
  });

  it("refuses a command or a bad variable name with a 400, as the QEMU backend does", async () => {
    await expect(
      backend.create({
        sandboxId: "fc-cmd",
        workerId: "w",
        vcpus: 1,
        memoryMb: 256,
        command: ["sh"],
      }),
    ).rejects.toMatchObject({ httpStatus: 400 });
    await expect(
      backend.create({
        sandboxId: "fc-env",
        workerId: "w",
        vcpus: 1,
        memoryMb: 256,
        env: { "A-B": "1" },
      }),
    ).rejects.toMatchObject({ httpStatus: 400 });
    expect(await readdir(stateDir)).toEqual([]);
  });

  it("reconcile removes the disk copy of a create that died before recording its VM", async () => {
    const orphan = path.join(stateDir, "fc-orphan");
    await mkdir(orphan);
    await writeFile(path.join(orphan, "rootfs.ext4"), "half a copy");
    const old = new Date(Date.now() - 10 * 60_000);
    await utimes(orphan, old, old);
    // Young, it may be a create under way: left alone.
    const young = path.join(stateDir, "fc-young");
    await mkdir(young);
    expect(await backend.list()).toEqual([]);
    expect((await readdir(stateDir)).sort()).toEqual(["fc-young"]);
  });
});

// Where KVM and the binary exist this boots a real VM from the VM image; here it is skipped with
// the reason printed above.
describe.skipIf(bootable !== undefined || !canBuildImage)("Firecracker boot (KVM)", () => {
  it("boots the VM image, the agent answers over vsock, and stop and remove clean up", async () => {
    const agent = await buildAgentBundle();
    const image = await buildVmImage({ agentFile: agent.path, cacheDir: CACHE_DIR });
    const stateDir = await mkdtemp(path.join(tmpdir(), "aet-fc-"));
    const backend = new FirecrackerBackend({
      binary: fcProbe?.detail.split(" and ")[1] ?? "firecracker",
      kernelPath: image.vmlinux ?? "",
      initrdPath: image.initrd,
      rootfsPath: image.rootfs,
      stateDir,
      logger,
    });
    const sandboxId = `fc-boot-${process.pid}`;
    try {
      await backend.create({
        sandboxId,
        workerId: "w-fc",
        vcpus: 1,
        memoryMb: 512,
        env: { GREETING: "hello from firecracker" },
      });
      await backend.start(sandboxId);
      expect((await backend.inspect(sandboxId)).state).toBe("running");
      const token = await backend.agentToken(sandboxId);
      const client = await waitForAgent(backend.agentSocketPath(sandboxId), 60_000, {
        ...(token === undefined ? {} : { token }),
      });
      let stdout = "";
      const result = await client.exec(
        { shell: 'uname -r; echo "$GREETING"' },
        { onStdout: (d) => void (stdout += d.toString()) },
      );
      client.close();
      expect(result.exitCode).toBe(0);
      expect(stdout).toBe(`${image.kernelRelease}\nhello from firecracker\n`);
      await backend.stop(sandboxId, { timeoutSec: 10 });
      expect((await backend.inspect(sandboxId)).state).toBe("exited");
    } finally {
      await backend.remove(sandboxId);
      await backend.close();
      expect(await readdir(stateDir)).toEqual([]);
      await rm(stateDir, { recursive: true, force: true });
    }
  }, 300_000);
});
