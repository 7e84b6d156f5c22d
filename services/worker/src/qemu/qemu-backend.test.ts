import { randomBytes } from "node:crypto";
import { access, constants, mkdir, mkdtemp, rm, utimes } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createLogger, InMemoryEventBus } from "@aetherium/common";
import {
  createRepositories,
  Migrator,
  openDatabase,
  type DatabaseHandle,
  type Repositories,
} from "@aetherium/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentClient } from "../agent-client/agent-client.js";
import { waitForAgent } from "../agent-client/wait-for-agent.js";
import { buildAgentBundle } from "../image/build-agent.js";
import { SandboxManager } from "../sandbox/sandbox-manager.js";
import { buildVmImage, TEMPLATE_HEADROOM_MB, type VmImage } from "../vm-image/build-vm-image.js";
import { QemuBackend } from "./qemu-backend.js";
import { qmpCommands } from "./qmp-client.js";

// Same cache as the Docker image tests: the VM image is made of the same rootfs tree.
const CACHE_DIR = path.resolve(import.meta.dirname, "../../../../.aetherium/cache/image");
// Under TCG on a shared 2-core machine a boot takes seconds to tens of seconds.
const BOOT_MS = 120_000;

const canExec = (file: string) =>
  access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
const missing = [
  ...((await canExec("/usr/bin/qemu-system-x86_64"))
    ? []
    : ["qemu-system-x86_64 (qemu-system-x86)"]),
  ...((await canExec("/usr/bin/qemu-img")) ? [] : ["qemu-img (qemu-utils)"]),
  ...((await canExec("/usr/sbin/debootstrap")) ? [] : ["debootstrap"]),
  ...((await canExec("/usr/sbin/mkfs.ext4")) ? [] : ["mkfs.ext4 (e2fsprogs)"]),
  ...(process.getuid?.() === 0 ? [] : ["root"]),
];
if (missing.length > 0) {
  console.warn(`skipping QEMU microVM tests: missing ${missing.join(", ")}`);
}

async function run(client: AgentClient, command: string, stdin?: string) {
  let stdout = "";
  const result = await client.exec(
    { shell: command, ...(stdin === undefined ? {} : { stdin }) },
    { onStdout: (d) => void (stdout += d.toString()) },
  );
  return { ...result, stdout };
}

describe.skipIf(missing.length > 0)("QEMU microVM backend (TCG)", () => {
  const workerId = `test-${randomBytes(4).toString("hex")}`;
  let image: VmImage;
  let stateDir: string;
  let backend: QemuBackend;
  const dial = async (sandboxId: string) =>
    waitForAgent(backend.agentSocketPath(sandboxId), BOOT_MS, {
      token: await backend.agentToken(sandboxId),
      handshake: backend.agentHandshake,
    });

  beforeAll(async () => {
    const agent = await buildAgentBundle();
    image = await buildVmImage({ agentFile: agent.path, cacheDir: CACHE_DIR });
    stateDir = await mkdtemp(path.join(os.tmpdir(), "aeth-qemu-"));
    // TCG explicitly: this machine's /dev/kvm does not run guests, and CI hosts may lack it.
    backend = new QemuBackend({ stateDir, image, accel: "tcg" });
  }, 600_000);

  afterAll(async () => {
    for (const s of (await backend?.list()) ?? []) await backend.remove(s.sandboxId);
    if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
  });

  it(
    "boots the guest kernel, runs commands and keeps files across stop and start; delete removes everything",
    async () => {
      const id = `vm-${randomBytes(4).toString("hex")}`;
      const created = await backend.create({
        sandboxId: id,
        workerId,
        vcpus: 2,
        memoryMb: 512,
        diskMb: 600,
        pidsLimit: 64,
      });
      expect(created).toMatchObject({ state: "created", backend: "qemu", workerId });
      await access(path.join(backend.runDir(id), "disk.qcow2"));

      await backend.start(id);
      expect((await backend.inspect(id)).state).toBe("running");
      let client = await dial(id);
      const uname = await run(client, "uname -r");
      expect(uname.stdout.trim()).toBe(image.kernelRelease);
      expect(uname.stdout.trim()).not.toBe(os.release());
      expect((await run(client, "hostname")).stdout.trim()).toBe(id);
      // The VM's size is the sandbox's: its vCPUs, and at most its memory.
      expect((await run(client, "nproc")).stdout.trim()).toBe("2");
      const memKb = Number(
        (await run(client, "awk '/MemTotal/ {print $2}' /proc/meminfo")).stdout.trim(),
      );
      expect(memKb).toBeGreaterThan(300 * 1024);
      expect(memKb).toBeLessThanOrEqual(512 * 1024);
      // Its process limit is the sandbox's, over everything the agent starts (as Docker's
      // PidsLimit over a container): forking past it fails.
      expect((await run(client, "cat /proc/self/cgroup")).stdout.trim()).toBe("0::/sandbox");
      expect((await run(client, "cat /sys/fs/cgroup/sandbox/pids.max")).stdout.trim()).toBe("64");
      const bomb = await run(
        client,
        "dash -c 'i=0; while [ $i -lt 100 ]; do sleep 60 & i=$((i+1)); done; echo all-started' 2>&1",
      );
      expect(bomb.stdout).toMatch(/fork/i);
      expect(bomb.stdout).not.toContain("all-started");
      // Its free disk is the template's headroom plus the sandbox's diskMb (ext4 keeps a share).
      const freeMb = Number((await run(client, "df -m --output=avail / | tail -1")).stdout.trim());
      expect(freeMb).toBeGreaterThan(600);
      expect(freeMb).toBeLessThan(600 + TEMPLATE_HEADROOM_MB + 64);
      expect((await run(client, "tr a-z A-Z", "piped in\n")).stdout).toBe("PIPED IN\n");
      // A terminal (devpts is mounted by the guest's init) and a signal to a running process.
      let tty = "";
      const withPty = await client.exec(
        { shell: "tty; stty size", pty: { cols: 100, rows: 30 } },
        { onStdout: (d) => void (tty += d.toString()) },
      );
      expect(withPty.exitCode).toBe(0);
      expect(tty).toMatch(/^\/dev\/pts\/\d+\r?\n30 100/);
      const sleeper = await client.startProcess({ command: "sleep", args: ["300"] });
      await sleeper.signal("SIGTERM");
      expect((await sleeper.done).signal).toBe("SIGTERM");
      await client.fs.write("/root/kept.txt", "survives a stop\n");
      expect((await client.fs.readFile("/root/kept.txt")).toString()).toBe("survives a stop\n");

      // A second host connection after the first one closed: the port outlives connections.
      client.close();
      client = await dial(id);
      expect((await run(client, "echo again")).stdout).toBe("again\n");

      // The agent dies: the guest's init restarts it, and the new agent breaks the connection
      // the host still holds to the old one, so the host dials again instead of hanging.
      const before = await client.info();
      const broken = new Promise<void>((resolve) => client.onClose(resolve));
      void client
        .exec({ command: "kill", args: ["-9", String(before.pid)] })
        .catch(() => undefined);
      await broken;
      client = await dial(id);
      expect((await client.info()).pid).not.toBe(before.pid);
      expect((await run(client, "echo restarted")).stdout).toBe("restarted\n");
      client.close();

      await backend.stop(id, { timeoutSec: 60 });
      expect((await backend.inspect(id)).state).toBe("exited");
      await backend.start(id);
      client = await dial(id);
      expect((await client.fs.readFile("/root/kept.txt")).toString()).toBe("survives a stop\n");
      client.close();

      await backend.remove(id);
      await expect(access(backend.runDir(id))).rejects.toThrow();
      await expect(backend.inspect(id)).rejects.toThrow(/not found/);
      expect((await backend.list()).map((s) => s.sandboxId)).not.toContain(id);
    },
    4 * BOOT_MS,
  );

  it(
    "kills a guest that does not power off (paused here) when the stop times out",
    async () => {
      const id = `vm-${randomBytes(4).toString("hex")}`;
      await backend.create({ sandboxId: id, workerId, vcpus: 1, memoryMb: 256 });
      await backend.start(id);
      await qmpCommands(path.join(backend.runDir(id), "qmp.sock"), [{ execute: "stop" }]);
      expect((await backend.inspect(id)).state).toBe("paused");
      await backend.stop(id, { timeoutSec: 1 });
      expect(await backend.inspect(id)).toMatchObject({ state: "exited", exitCode: 137 });
      await backend.remove(id);
    },
    BOOT_MS,
  );

  it("list removes the run directory of a create that died before writing its spec", async () => {
    const dead = backend.runDir(`vm-${randomBytes(4).toString("hex")}`);
    const fresh = backend.runDir(`vm-${randomBytes(4).toString("hex")}`);
    await mkdir(dead);
    await mkdir(fresh);
    const old = new Date(Date.now() - 10 * 60_000);
    await utimes(dead, old, old);
    expect(await backend.list()).toEqual([]);
    await expect(access(dead)).rejects.toThrow();
    // A young one may be a create still under way.
    await access(fresh);
    await rm(fresh, { recursive: true });
  });

  describe("through a SandboxManager", () => {
    let handle: DatabaseHandle;
    let repos: Repositories;
    let manager: SandboxManager;

    beforeAll(async () => {
      handle = await openDatabase({ pglite: "memory://" });
      await new Migrator(handle.db).up();
      repos = createRepositories(handle.db);
      await repos.workers.register({
        id: workerId,
        hostname: "test",
        address: "http://127.0.0.1:1",
      });
      // The accelerator as a worker picks it (`auto`): KVM only where /dev/kvm runs a guest.
      manager = new SandboxManager({
        backend: new QemuBackend({ stateDir, image }),
        repos,
        bus: new InMemoryEventBus(),
        workerId,
        logger: createLogger({ service: "test", level: "silent", format: "json" }),
        agentReadyTimeoutMs: BOOT_MS,
      });
    }, 60_000);

    afterAll(async () => {
      await manager?.close();
      await handle?.close();
    });

    it(
      "creates a running sandbox, runs commands with stdin and a timeout, and deletes it",
      async () => {
        const row = await repos.vms.create({
          name: "qemu-life",
          backend: "qemu",
          image: "aetherium/vm-base",
          vcpus: 1,
          memoryMb: 512,
        });
        expect(await manager.create(row.id)).toMatchObject({ status: "running", workerId });
        const result = await manager.exec(row.id, {
          command: "sh",
          args: ["-c", 'printf "%s|%s" "$GREETING" "$(cat)"; exit 3'],
          env: { GREETING: "hi" },
          stdin: "piped",
        });
        expect(result).toMatchObject({ exitCode: 3, stdout: "hi|piped" });
        const timedOut = await manager.exec(row.id, { command: "sleep 30", timeoutMs: 500 });
        expect(timedOut.error).toMatch(/timed out/);
        await manager.delete(row.id);
        expect((await repos.vms.get(row.id))?.status).toBe("deleted");
        expect((await backend.list({ workerId })).map((s) => s.sandboxId)).not.toContain(row.id);
      },
      2 * BOOT_MS,
    );

    it(
      "after a worker restart finds its running VM and drives it; removes a VM whose sandbox was deleted meanwhile",
      async () => {
        const row = await repos.vms.create({
          name: "qemu-restart",
          backend: "qemu",
          image: "aetherium/vm-base",
          vcpus: 1,
          memoryMb: 512,
        });
        await manager.create(row.id);
        await manager.exec(row.id, { command: "echo before > /root/restart.txt" });
        // A VM whose sandbox was deleted while the worker was down.
        const orphan = (
          await repos.vms.create({
            name: "qemu-orphan",
            backend: "qemu",
            image: "aetherium/vm-base",
            vcpus: 1,
            memoryMb: 256,
          })
        ).id;
        await backend.create({ sandboxId: orphan, workerId, vcpus: 1, memoryMb: 256 });
        await repos.vms.updateStatus(orphan, ["pending"], "deleted");
        expect((await repos.vms.get(orphan))?.status).toBe("deleted");

        // The worker goes away (its QEMU processes are daemons and stay) and a new one starts.
        await manager.close();
        const reborn = new QemuBackend({ stateDir, image });
        manager = new SandboxManager({
          backend: reborn,
          repos,
          bus: new InMemoryEventBus(),
          workerId,
          logger: createLogger({ service: "test", level: "silent", format: "json" }),
          agentReadyTimeoutMs: BOOT_MS,
        });
        const reconciled = await manager.reconcile();
        expect(reconciled.orphansRemoved).toEqual([orphan]);
        expect((await repos.vms.get(row.id))?.status).toBe("running");
        expect((await manager.exec(row.id, { command: "cat /root/restart.txt" })).stdout).toBe(
          "before\n",
        );
        expect((await reborn.list({ workerId })).map((s) => s.sandboxId)).not.toContain(orphan);
        // Its overlay disk went with its run directory.
        await expect(access(path.join(reborn.runDir(orphan), "disk.qcow2"))).rejects.toThrow();
        await manager.delete(row.id);
      },
      2 * BOOT_MS,
    );
  });
});
