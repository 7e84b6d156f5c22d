import { randomBytes } from "node:crypto";
import { access, constants } from "node:fs/promises";
import path from "node:path";
import { createLogger, InMemoryEventBus } from "@aetherium/common";
import type { DomainEvent } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAgentBundle } from "../agent/build-agent.js";
import { isAgentError, type AgentError } from "../agent/host/agent-errors.js";
import { detectBackends } from "../backends/detect-backends.js";
import { DockerBackend } from "../docker/docker-backend.js";
import { buildBaseImage, DEFAULT_BASE_IMAGE } from "../image/build-base-image.js";
import { openDatabase, type DatabaseHandle } from "../storage/database.js";
import { Migrator } from "../storage/migrator.js";
import {
  createRepositories,
  type Repositories,
} from "../storage/repositories/create-repositories.js";
import { SandboxManager } from "./sandbox-manager.js";

// The real thing: the esbuild-bundled agent inside the debootstrapped base image on dockerd.
const CACHE_DIR = path.resolve(import.meta.dirname, "../../../../.aetherium/cache/image");
// AETHERIUM_TEST_SANDBOX_IMAGE: a prebuilt image to run instead of building the working tree's
// agent into the base image (useful while someone reworks the agent).
const PREBUILT = process.env.AETHERIUM_TEST_SANDBOX_IMAGE;
const TAG = PREBUILT ?? DEFAULT_BASE_IMAGE;
const docker = (await detectBackends()).find((b) => b.backend === "docker");
const debootstrap = await access("/usr/sbin/debootstrap", constants.X_OK).then(
  () => true,
  () => false,
);
const canRun = docker?.available === true && debootstrap && process.getuid?.() === 0;
if (!canRun)
  console.warn(
    `skipping sandbox manager tests: needs root, debootstrap and dockerd (${docker?.detail})`,
  );

describe.skipIf(!canRun)("SandboxManager on Docker with the real agent", () => {
  const workerId = `test-${randomBytes(4).toString("hex")}`;
  const backend = new DockerBackend();
  const bus = new InMemoryEventBus();
  const events: DomainEvent[] = [];
  let handle: DatabaseHandle;
  let repos: Repositories;
  let manager: SandboxManager;

  beforeAll(async () => {
    if (!PREBUILT) {
      const agent = await buildAgentBundle();
      await buildBaseImage({ agentFile: agent.path, cacheDir: CACHE_DIR, tag: TAG });
    }
    handle = await openDatabase({ pglite: "memory://" });
    await new Migrator(handle.db).up();
    repos = createRepositories(handle.db);
    await repos.workers.register({ id: workerId, hostname: "test", address: "http://127.0.0.1:1" });
    bus.subscribe(["vm.*"], (e) => {
      events.push(e);
    });
    manager = new SandboxManager({
      backend,
      repos,
      bus,
      workerId,
      logger: createLogger({ service: "test", level: "silent", format: "json" }),
      outputLimitBytes: 4096,
    });
  }, 300_000);

  afterAll(async () => {
    await manager?.close();
    for (const s of await backend.list({ workerId })) await backend.remove(s.sandboxId);
    await handle?.close();
  });

  const newVm = (name: string, extra: { expiresAt?: Date } = {}) =>
    repos.vms.create({ name, backend: "docker", image: TAG, vcpus: 1, memoryMb: 256, ...extra });

  it("turns running only once the agent answers, and runs commands with exit codes and output", async () => {
    const row = await newVm("life");
    const running = await manager.create(row.id);
    expect(running).toMatchObject({ status: "running", workerId, error: null });
    expect(running.readyAt).toBeInstanceOf(Date);
    expect(
      events.filter((e) => (e.data as { vm: { id: string } }).vm.id === row.id).map((e) => e.type),
    ).toEqual(["vm.creating", "vm.running"]);

    const echo = await manager.exec(row.id, { command: "echo hello; echo oops >&2" });
    expect(echo).toMatchObject({
      exitCode: 0,
      stdout: "hello\n",
      stderr: "oops\n",
      stdoutTruncated: false,
    });
    expect(echo.durationMs).not.toBeNull();
    const three = await manager.exec(row.id, { command: "exit 3" });
    expect(three.exitCode).toBe(3);
    const viaArgs = await manager.exec(row.id, {
      command: "sh",
      args: ["-c", 'printf "%s|%s|%s" "$GREETING" "$(pwd)" "$(cat)"'],
      env: { GREETING: "hi" },
      cwd: "/tmp",
      stdin: "piped",
    });
    expect(viaArgs.stdout).toBe("hi|/tmp|piped");
    expect(viaArgs.envKeys).toEqual(["GREETING"]);
    const big = await manager.exec(row.id, { command: "head -c 100000 /dev/zero | tr '\\0' x" });
    expect(big.stdout).toHaveLength(4096);
    expect(big.stdoutTruncated).toBe(true);
    const timedOut = await manager.exec(row.id, { command: "sleep 30", timeoutMs: 500 });
    expect(timedOut.error).toMatch(/timed out/);
    expect((await repos.executions.listByVm(row.id)).items).toHaveLength(5);

    await manager.stop(row.id);
    expect((await repos.vms.get(row.id))?.status).toBe("stopped");
    await manager.start(row.id);
    expect((await manager.exec(row.id, { command: "echo back" })).stdout).toBe("back\n");
    await manager.delete(row.id);
    expect((await repos.vms.get(row.id))?.status).toBe("deleted");
    expect((await backend.list({ workerId })).map((s) => s.sandboxId)).not.toContain(row.id);
  });

  it("builds over the leftover container of an interrupted attempt", async () => {
    const row = await newVm("leftover");
    await backend.create({ sandboxId: row.id, workerId, image: TAG, vcpus: 1, memoryMb: 256 });
    const running = await manager.create(row.id);
    expect(running.status).toBe("running");
    expect((await manager.exec(row.id, { command: "echo fresh" })).stdout).toBe("fresh\n");
    await manager.delete(row.id);
  });

  it("records why a sandbox failed when its image does not exist", async () => {
    const row = await repos.vms.create({
      name: "no-image",
      backend: "docker",
      image: "aetherium/none:0",
      vcpus: 1,
      memoryMb: 256,
    });
    await expect(manager.create(row.id)).rejects.toThrow(
      /aetherium image build|not found|No such image/i,
    );
    const failed = await repos.vms.get(row.id);
    expect(failed?.status).toBe("failed");
    expect(failed?.error).toBeTruthy();
    expect((await backend.list({ workerId })).map((s) => s.sandboxId)).not.toContain(row.id);
  });

  it("reconciles after a restart: removes orphans, marks vanished sandboxes lost", async () => {
    const kept = await newVm("kept");
    await manager.create(kept.id);
    const vanished = await newVm("vanished");
    await manager.create(vanished.id);
    const orphan = await newVm("orphan");
    await manager.create(orphan.id);
    // The orphan's row is gone (say, deleted while the worker was down); the other's container is.
    await repos.vms.updateStatus(orphan.id, ["running"], "deleted");
    await backend.remove(vanished.id);

    const result = await manager.reconcile();
    expect(result.orphansRemoved).toEqual([orphan.id]);
    expect(result.markedLost).toEqual([vanished.id]);
    expect((await repos.vms.get(vanished.id))?.status).toBe("lost");
    const left = (await backend.list({ workerId })).map((s) => s.sandboxId);
    expect(left).toContain(kept.id);
    expect(left).not.toContain(orphan.id);
    await manager.delete(kept.id);
  });

  it("stops sandboxes that ran nothing for the idle time, and not busy ones", async () => {
    const quiet = await newVm("quiet");
    const quietReady = (await manager.create(quiet.id)).readyAt!.getTime();
    const busy = await newVm("busy");
    await manager.create(busy.id);
    await manager.exec(busy.id, { command: "true" });
    const now = Date.now();
    // Quiet has been idle since it booted; busy ran a command a moment ago. An idle limit of
    // half the quiet one's idle time separates them.
    const idleMs = Math.floor((now - quietReady) / 2);
    expect(idleMs).toBeGreaterThan(50);
    expect(await manager.stopIdle(idleMs, now)).toEqual([quiet.id]);
    expect((await repos.vms.get(quiet.id))?.status).toBe("stopped");
    expect((await repos.vms.get(busy.id))?.status).toBe("running");
    await manager.delete(quiet.id);
    await manager.delete(busy.id);
  });

  it("never idle-stops a sandbox while a command runs in it (an open terminal)", async () => {
    const row = await newVm("terminal");
    await manager.create(row.id);
    const chunks: string[] = [];
    const handle = await manager.startExec(
      row.id,
      { command: "cat", pty: { cols: 80, rows: 24 } },
      { onStdout: (b) => void chunks.push(b.toString()) },
    );
    // Far past any idle limit, but the terminal is open.
    expect(await manager.stopIdle(1, Date.now() + 3_600_000)).not.toContain(row.id);
    await handle.write("hi\n");
    await handle.closeStdin();
    const { execution, result } = await handle.done;
    expect(result.exitCode).toBe(0);
    expect(execution.stdout).toContain("hi");
    expect(await manager.stopIdle(1, Date.now() + 3_600_000)).toContain(row.id);
    await manager.delete(row.id);
  });

  it("deletes sandboxes whose time is up", async () => {
    const row = await newVm("ttl", { expiresAt: new Date(Date.now() + 60_000) });
    await manager.create(row.id);
    expect(await manager.expire(new Date())).toEqual([]);
    expect(await manager.expire(new Date(Date.now() + 120_000))).toEqual([row.id]);
    expect((await repos.vms.get(row.id))?.status).toBe("deleted");
  });

  it("ends an exec's leftover processes and refuses special files, inside the real image", async () => {
    const row = await newVm("tree");
    await manager.create(row.id);
    try {
      const r = await manager.exec(row.id, {
        command: "sleep 1000 & setsid sleep 1001 & (sleep 1002 &); mkfifo /tmp/fifo; echo started",
      });
      expect(r.stdout).toBe("started\n");
      const left = await manager.exec(row.id, {
        command:
          "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '^sleep 100[0-2]' || true",
      });
      expect(left.stdout.trim()).toBe("0");
      const client = await manager.runningClient(row.id);
      const fifo = await client.fs.read("/tmp/fifo").catch((e: unknown) => e);
      expect(isAgentError(fifo, "notARegularFile")).toBe(true);
      const sock = await client.fs.read("/run/aetherium/agent.sock").catch((e: unknown) => e);
      expect(isAgentError(sock, "notARegularFile")).toBe(true);
      expect((sock as AgentError).code).toBe("bad_request");
      expect((await client.fs.readFile("/proc/cpuinfo")).toString()).toMatch(/processor/);
      expect((await client.fs.readFile("/proc/self/mounts")).toString()).toMatch(/ \/ /);
    } finally {
      await manager.delete(row.id);
    }
  });
});
