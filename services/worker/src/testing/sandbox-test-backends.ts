import { access, constants, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { VmBackend } from "@aetherium/types";
import type { SandboxBackend } from "../backends/sandbox-backend.js";
import { DockerBackend } from "../docker/docker-backend.js";
import { buildAgentBundle } from "../image/build-agent.js";
import { QEMU_IMAGE_NAME, QemuBackend } from "../qemu/qemu-backend.js";
import { buildVmImage } from "../vm-image/build-vm-image.js";
import {
  dockerTestHost,
  ensureSandboxTestImage,
  SANDBOX_TEST_IMAGE,
  TEST_IMAGE_CACHE_DIR,
} from "./sandbox-test-image.js";

/** A backend a shared sandbox suite runs against, opened on demand. */
export interface OpenedTestBackend {
  readonly backend: SandboxBackend;
  /** The image name a sandbox row of this backend names. */
  readonly image: string;
  /** How long the first agent connection may take (a VM boots under TCG in seconds). */
  readonly agentReadyTimeoutMs: number;
  /** Removes what opening made (the run directories of VMs). */
  close(): Promise<void>;
}

/** One backend of {@link sandboxTestBackends}: whether this host runs it, and how to open it. */
export interface SandboxTestBackend {
  readonly kind: Extract<VmBackend, "docker" | "qemu">;
  readonly ok: boolean;
  /** Why the host cannot run it, when it cannot. */
  readonly detail: string;
  open(): Promise<OpenedTestBackend>;
}

const executable = (file: string) =>
  access(file, constants.X_OK).then(
    () => true,
    () => false,
  );

/** Under TCG on a shared 2-core machine a boot takes seconds to tens of seconds. */
const VM_BOOT_MS = 150_000;

/**
 * The backends the shared sandbox suites (exec, stdin, signals, terminals, files, timeouts) run
 * on: Docker, and QEMU microVMs booting this checkout's VM image (KVM where `/dev/kvm` runs a
 * guest, TCG otherwise), each skipped with its reason where this host lacks what it needs.
 * The QEMU one has no network interface: those suites talk to the agent only.
 */
export async function sandboxTestBackends(): Promise<SandboxTestBackend[]> {
  const docker = await dockerTestHost({ needsDebootstrap: false });
  const qemuMissing = [
    ...((await executable("/usr/bin/qemu-system-x86_64")) ? [] : ["qemu-system-x86_64"]),
    ...((await executable("/usr/bin/qemu-img")) ? [] : ["qemu-img"]),
    ...((await executable("/usr/sbin/debootstrap")) ? [] : ["debootstrap"]),
    ...((await executable("/usr/sbin/mkfs.ext4")) ? [] : ["mkfs.ext4"]),
    ...(process.getuid?.() === 0 ? [] : ["root"]),
  ];
  return [
    {
      kind: "docker",
      ok: docker.ok,
      detail: docker.detail,
      open: async () => {
        await ensureSandboxTestImage();
        return {
          backend: new DockerBackend(),
          image: SANDBOX_TEST_IMAGE,
          agentReadyTimeoutMs: 60_000,
          close: async () => {},
        };
      },
    },
    {
      kind: "qemu",
      ok: qemuMissing.length === 0,
      detail: qemuMissing.length === 0 ? "" : `missing ${qemuMissing.join(", ")}`,
      open: async () => {
        const agent = await buildAgentBundle();
        const image = await buildVmImage({ agentFile: agent.path, cacheDir: TEST_IMAGE_CACHE_DIR });
        const stateDir = await mkdtemp(path.join(os.tmpdir(), "aeth-qemu-suite-"));
        const backend = new QemuBackend({ stateDir, image });
        return {
          backend,
          image: QEMU_IMAGE_NAME,
          agentReadyTimeoutMs: VM_BOOT_MS,
          close: async () => {
            for (const s of await backend.list()) await backend.remove(s.sandboxId);
            await rm(stateDir, { recursive: true, force: true });
          },
        };
      },
    },
  ];
}
