import { randomBytes } from "node:crypto";
import { access, constants, mkdtemp, readFile, rm } from "node:fs/promises";
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
import { buildAgentBundle } from "../image/build-agent.js";
import { SandboxManager } from "../sandbox/sandbox-manager.js";
import { buildVmImage } from "../vm-image/build-vm-image.js";
import { QemuBackend } from "./qemu-backend.js";

// The VM image is made of the rootfs tree the Docker image tests share.
const CACHE_DIR = path.resolve(import.meta.dirname, "../../../../.aetherium/cache/image");
// Under TCG on a shared 2-core machine a boot takes seconds to tens of seconds.
const BOOT_MS = 120_000;

const canExec = (file: string) =>
  access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
const missing = [
  ...((await canExec("/usr/bin/qemu-system-x86_64")) ? [] : ["qemu-system-x86_64"]),
  ...((await canExec("/usr/bin/qemu-img")) ? [] : ["qemu-img"]),
  ...((await canExec("/usr/sbin/debootstrap")) ? [] : ["debootstrap"]),
  ...(process.getuid?.() === 0 ? [] : ["root"]),
];
if (missing.length > 0) console.warn(`skipping QEMU pause tests: missing ${missing.join(", ")}`);

/** CPU time (user + system, seconds) the process `pid` has used so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces): utime is the 14th, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory of `pid`, in bytes. */
async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(missing.length > 0)("pausing a QEMU microVM (TCG)", () => {
  const workerId = `pause-${randomBytes(4).toString("hex")}`;
  let stateDir: string;
  let backend: QemuBackend;
  let handle: DatabaseHandle;
  let repos: Repositories;
  let manager: SandboxManager;

  beforeAll(async () => {
    const agent = await buildAgentBundle();
    const image = await buildVmImage({ agentFile: agent.path, cacheDir: CACHE_DIR });
    stateDir = await mkdtemp(path.join(os.tmpdir(), "aeth-qemu-pause-"));
    backend = new QemuBackend({ stateDir, image, accel: "tcg" });
    handle = await openDatabase({ pglite: "memory://" });
    await new Migrator(handle.db).up();
    repos = createRepositories(handle.db);
    await repos.workers.register({ id: workerId, hostname: "test", address: "http://127.0.0.1:1" });
    manager = new SandboxManager({
      backend,
      repos,
      bus: new InMemoryEventBus(),
      workerId,
      logger: createLogger({ service: "test", level: "silent", format: "json" }),
      agentReadyTimeoutMs: BOOT_MS,
    });
  }, 600_000);

  afterAll(async () => {
    await manager?.close();
    for (const s of (await backend?.list()) ?? []) await backend.remove(s.sandboxId);
    if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
    await handle?.close();
  }, 60_000);

  it(
    "halts the vCPUs (no CPU, no progress, memory kept) and its processes carry on after resume",
    async () => {
      const row = await repos.vms.create({
        name: "qemu-pause",
        backend: "qemu",
        image: "aetherium/vm-base",
        vcpus: 1,
        memoryMb: 512,
      });
      await manager.create(row.id);
      // A counter streaming its ticks (what arrives when is recorded here, on the host), and a
      // busy loop so the running VM has work to stop.
      const ticks: { at: number; n: number }[] = [];
      let partial = "";
      const counter = await manager.startProcess(
        row.id,
        { shell: "i=0; while :; do i=$((i+1)); echo $i; echo $i > /root/count; sleep 0.2; done" },
        {
          onStdout: (d) => {
            const lines = (partial + d.toString()).split("\n");
            partial = lines.pop() ?? "";
            for (const l of lines) ticks.push({ at: Date.now(), n: Number(l) });
          },
        },
      );
      const busy = await manager.startProcess(row.id, { shell: "while :; do :; done" }, {});
      await expect.poll(() => ticks.length, { timeout: BOOT_MS, interval: 200 }).toBeGreaterThan(3);
      const pid = Number(
        (await readFile(path.join(backend.runDir(row.id), "qemu.pid"), "utf8")).trim(),
      );

      const runningFrom = await cpuSeconds(pid);
      await sleep(3000);
      const runningCpu = (await cpuSeconds(pid)) - runningFrom;

      expect(await manager.pause(row.id)).toMatchObject({ status: "paused" });
      const pausedAt = Date.now();
      expect((await backend.inspect(row.id)).state).toBe("paused");
      const rssBefore = await rssBytes(pid);
      const pausedFrom = await cpuSeconds(pid);
      await sleep(3000);
      const pausedCpu = (await cpuSeconds(pid)) - pausedFrom;
      // The memory stays in the QEMU process: nothing is written out, nothing is given back.
      expect(await rssBytes(pid)).toBeGreaterThanOrEqual(rssBefore * 0.9);
      // Commands are refused while paused rather than left hanging.
      await expect(manager.exec(row.id, { command: "true" })).rejects.toThrow(/paused/);
      const resumedAt = Date.now();

      expect(await manager.resume(row.id)).toMatchObject({ status: "running" });
      expect((await backend.inspect(row.id)).state).toBe("running");
      // Stopped vCPUs: the paused VM's QEMU barely runs (its main loop only), while running it
      // was emulating a busy loop.
      expect(pausedCpu).toBeLessThan(0.3);
      expect(pausedCpu).toBeLessThan(runningCpu);
      // No tick was produced while paused (one second of slack for ticks already on their way).
      expect(ticks.filter((t) => t.at > pausedAt + 1000 && t.at < resumedAt)).toEqual([]);
      const before = ticks.length;
      await expect
        .poll(() => ticks.length, { timeout: 60_000, interval: 200 })
        .toBeGreaterThan(before + 3);
      // The same process, counting on from where it was: its memory was kept.
      expect(ticks.map((t) => t.n)).toEqual(ticks.map((_, i) => i + 1));
      const file = await manager.exec(row.id, { command: "cat /root/count" });
      expect(Number(file.stdout.trim())).toBeGreaterThanOrEqual(before);

      await counter.kill();
      await busy.kill();
      await manager.delete(row.id);
    },
    4 * BOOT_MS,
  );
});
