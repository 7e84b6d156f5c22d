import { execFile } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { promisify } from "node:util";
import { createLogger, loadConfig } from "@aetherium/common";
import { describe, expect, it } from "vitest";
import { detectBackends } from "../backends/detect-backends.js";
import { openFirecrackerBackend } from "./open-firecracker-backend.js";

const run = promisify(execFile);
const logger = createLogger({ service: "firecracker-test", level: "silent" });
const probes = await detectBackends();
const fcProbe = probes.find((p) => p.backend === "firecracker");
const kernel = process.env.AETHERIUM_FIRECRACKER_KERNEL;
const rootfs = process.env.AETHERIUM_FIRECRACKER_ROOTFS;
const bootable =
  fcProbe?.available !== true
    ? fcProbe?.detail
    : kernel === undefined || rootfs === undefined
      ? "set AETHERIUM_FIRECRACKER_KERNEL and AETHERIUM_FIRECRACKER_ROOTFS to a vmlinux and an ext4 image"
      : await access(kernel, constants.R_OK).then(
          () => undefined,
          () => `${kernel} is missing`,
        );
if (bootable !== undefined) console.log(`Firecracker boot tests skipped: ${bootable}`);

describe("openFirecrackerBackend", () => {
  it("is not ready, and says what is missing, without a kernel and a root filesystem", async () => {
    const config = loadConfig({ env: { AETHERIUM_HOME: "/nonexistent-aetherium-home" } });
    const opened = await openFirecrackerBackend({
      probe: { backend: "firecracker", available: true, detail: "KVM and /usr/bin/firecracker" },
      config,
      image: "unused",
      logger,
    });
    expect(opened.ready).toBe(false);
    expect(opened.detail).toMatch(/sandbox\.firecracker\.kernel is not set/);
    expect(opened.detail).toMatch(/sandbox\.firecracker\.rootfs is not set/);
  });

  it("is not offered while no guest agent serves vsock, even with a kernel and a root filesystem", async () => {
    const config = loadConfig({
      env: {
        AETHERIUM_HOME: "/nonexistent-aetherium-home",
        AETHERIUM_SANDBOX__FIRECRACKER__KERNEL: "/etc/hostname",
        AETHERIUM_SANDBOX__FIRECRACKER__ROOTFS: "/etc/hostname",
      },
    });
    const opened = await openFirecrackerBackend({
      probe: { backend: "firecracker", available: true, detail: "KVM and /usr/bin/firecracker" },
      config,
      image: "unused",
      logger,
    });
    expect(opened.ready).toBe(false);
    expect(opened.detail).not.toMatch(/kernel|rootfs/);
    expect(opened.detail).toMatch(/agent serves vsock/);
  });
});

// Where KVM, the binary and a guest image exist this boots a real VM; here it is skipped with
// the reason printed above (this host has /dev/kvm but no firecracker binary).
describe.skipIf(bootable !== undefined)("Firecracker boot (KVM)", () => {
  it("boots, runs and stops a VM through its API socket", async () => {
    const { FirecrackerBackend } = await import("./firecracker-backend.js");
    const { mkdtemp, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const path = await import("node:path");
    const stateDir = await mkdtemp(path.join(tmpdir(), "aet-fc-"));
    const backend = new FirecrackerBackend({
      binary: fcProbe?.detail.split(" and ")[1] ?? "firecracker",
      kernelPath: kernel ?? "",
      rootfsPath: rootfs ?? "",
      stateDir,
      logger,
    });
    const sandboxId = `fc-boot-${process.pid}`;
    try {
      await backend.create({ sandboxId, workerId: "w-fc", vcpus: 1, memoryMb: 256 });
      await backend.start(sandboxId);
      expect((await backend.inspect(sandboxId)).state).toBe("running");
      await backend.stop(sandboxId, { timeoutSec: 10 });
      expect((await backend.inspect(sandboxId)).state).toBe("exited");
      const log = await run("cat", [path.join(stateDir, sandboxId, "console.log")]);
      expect(log.stdout).toMatch(/Linux version/);
    } finally {
      await backend.remove(sandboxId);
      await backend.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  }, 120_000);
});
