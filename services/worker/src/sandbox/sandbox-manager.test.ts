import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import path from "node:path";
import { createLogger, InMemoryEventBus } from "@aetherium/common";
import type { DomainEvent } from "@aetherium/types";
import {
  dockerTestHost,
  ensureSandboxTestImage,
  SANDBOX_TEST_IMAGE,
} from "../testing/sandbox-test-image.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAgentError, type AgentError } from "../agent-client/agent-errors.js";
import { DockerBackend } from "../docker/docker-backend.js";
import {
  openDatabase,
  type DatabaseHandle,
  Migrator,
  createRepositories,
  type Repositories,
} from "@aetherium/core";
import { SandboxManager } from "./sandbox-manager.js";

/** Polls `fn` every 100 ms until it returns something truthy; fails after `timeoutMs`. */
async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// The real thing: the esbuild-bundled agent inside the debootstrapped base image on dockerd.
const TAG = SANDBOX_TEST_IMAGE;
const host = await dockerTestHost({ needsDebootstrap: true });
const canRun = host.ok;
if (!canRun) console.warn(`skipping sandbox manager tests: ${host.detail}`);
describe.skipIf(!canRun)("SandboxManager on Docker with the real agent", () => {
  const workerId = `test-${randomBytes(4).toString("hex")}`;
  const backend = new DockerBackend();
  const bus = new InMemoryEventBus();
  const events: DomainEvent[] = [];
  let handle: DatabaseHandle;
  let repos: Repositories;
  let manager: SandboxManager;

  beforeAll(async () => {
    await ensureSandboxTestImage();
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

  const silent = createLogger({ service: "test", level: "silent", format: "json" });
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

  it("kills a command whose record cannot be written, so nothing runs unrecorded", async () => {
    const row = await newVm("unrecorded");
    await manager.create(row.id);
    // A task id no `tasks` row has: the insert of the execution row fails on its foreign key
    // while the agent is already starting the command.
    const refused = manager.exec(row.id, {
      command: "sleep 5; touch /tmp/finished",
      taskId: "00000000-0000-4000-8000-000000000000",
    });
    await expect(refused).rejects.toThrow();
    const check = await manager.exec(row.id, {
      command: "pgrep -x sleep | wc -l; sleep 6; test -e /tmp/finished && echo ran || echo killed",
      timeoutMs: 20_000,
    });
    // No sleep of the refused command is left, and it never got to finish.
    expect(check.stdout).toBe("0\nkilled\n");
    expect((await repos.executions.listByVm(row.id)).items).toHaveLength(1);
    await manager.delete(row.id);
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

  it("brings a lost sandbox back when its worker returns: running with its files, or stopped", async () => {
    const alive = await newVm("lost-alive");
    await manager.create(alive.id);
    await manager.exec(alive.id, { command: "echo precious > /root/important.txt" });
    const halted = await newVm("lost-halted");
    await manager.create(halted.id);
    await manager.stop(halted.id);
    // What the reaper does while the worker is silent; the containers keep running.
    await repos.vms.updateStatus(alive.id, ["running"], "lost", { error: "worker went offline" });
    await repos.vms.updateStatus(halted.id, ["stopped"], "lost", { error: "worker went offline" });
    events.length = 0;

    // The worker comes back: a fresh manager, as after a restart.
    const returned = new SandboxManager({ backend, repos, bus, workerId, logger: silent });
    try {
      const result = await returned.reconcile();
      expect(result.orphansRemoved).toEqual([]);
      expect(result.recovered.sort()).toEqual([alive.id, halted.id].sort());
      expect(await repos.vms.get(alive.id)).toMatchObject({ status: "running", error: null });
      expect((await repos.vms.get(halted.id))?.status).toBe("stopped");
      expect(
        events
          .filter((e) => (e.data as { vm: { id: string } }).vm.id === alive.id)
          .map((e) => e.type),
      ).toEqual(["vm.running"]);
      const read = await returned.exec(alive.id, { command: "cat /root/important.txt" });
      expect(read.stdout).toBe("precious\n");
    } finally {
      await returned.close();
    }
    await manager.delete(alive.id);
    await manager.delete(halted.id);
  });

  it("on return removes a container whose sandbox was placed on another worker, never one still recorded here", async () => {
    const moved = await newVm("moved-away");
    await manager.create(moved.id);
    const stays = await newVm("still-here");
    await manager.create(stays.id);
    // The control plane placed the create again elsewhere while this worker was away.
    await repos.workers.register({ id: `${workerId}-x`, hostname: "x", address: "http://x:1" });
    await repos.vms.updateStatus(moved.id, ["running"], "lost");
    await repos.vms.assignWorker(moved.id, `${workerId}-x`);
    await repos.vms.updateStatus(stays.id, ["running"], "lost");

    const result = await manager.reconcile();
    expect(result.orphansRemoved).toEqual([moved.id]);
    const left = (await backend.list({ workerId })).map((s) => s.sandboxId);
    expect(left).not.toContain(moved.id);
    expect(left).toContain(stays.id);
    expect((await repos.vms.get(stays.id))?.status).toBe("running");
    await manager.delete(stays.id);
  });

  it("leaves alone containers of another install with the same worker id", async () => {
    const mine = await newVm("mine");
    await manager.create(mine.id);
    // A second install on this host: its own database, the same (configured) worker id.
    const other = await openDatabase({ pglite: "memory://" });
    try {
      await new Migrator(other.db).up();
      const otherRepos = createRepositories(other.db);
      const intruder = new SandboxManager({
        backend,
        repos: otherRepos,
        bus: new InMemoryEventBus(),
        workerId,
        logger: silent,
      });
      const result = await intruder.reconcile();
      expect(result.orphansRemoved).toEqual([]);
      expect(result.foreign).toContain(mine.id);
      // And an install with its own worker id does not even see it.
      const neighbour = new SandboxManager({
        backend,
        repos: otherRepos,
        bus: new InMemoryEventBus(),
        workerId: `${workerId}-b`,
        logger: silent,
      });
      expect(await neighbour.reconcile()).toMatchObject({ orphansRemoved: [], foreign: [] });
      await intruder.close();
      await neighbour.close();
    } finally {
      await other.close();
    }
    expect(await manager.exec(mine.id, { command: "echo intact" })).toMatchObject({
      stdout: "intact\n",
    });
    await manager.delete(mine.id);
  });

  it("keeps a sandbox that is running when only announcing it failed", async () => {
    // The event bus failing right after the record turned running (Redis going away).
    let failed = false;
    const flaky = new InMemoryEventBus();
    const publish = flaky.publish.bind(flaky);
    flaky.publish = (e) => {
      if (e.type === "vm.running" && !failed) {
        failed = true;
        return Promise.reject(new Error("Reached the max retries per request limit"));
      }
      return publish(e);
    };
    const shaky = new SandboxManager({ backend, repos, bus: flaky, workerId, logger: silent });
    const row = await newVm("announce-fails");
    try {
      await expect(shaky.create(row.id)).resolves.toMatchObject({ status: "running" });
      expect(failed).toBe(true);
      expect((await repos.vms.get(row.id))?.status).toBe("running");
      expect((await shaky.exec(row.id, { command: "echo up" })).stdout).toBe("up\n");
    } finally {
      await shaky.close();
    }
    await manager.delete(row.id);
  });

  it("notices a container killed or removed behind its back, and not a deliberate stop", async () => {
    const stopWatching = manager.watch(60_000);
    try {
      const killed = await newVm("killed");
      await manager.create(killed.id);
      const removed = await newVm("removed");
      await manager.create(removed.id);
      const stopped = await newVm("stopped-on-purpose");
      await manager.create(stopped.id);
      // Let the event stream connect (its first resync pass runs on connection).
      await new Promise((r) => setTimeout(r, 500));

      await backend.docker.getContainer(`aetherium-${killed.id}`).kill();
      const afterKill = await waitFor(async () => {
        const r = await repos.vms.get(killed.id);
        return r?.status === "stopped" && r;
      }, "killed sandbox to stop");
      expect(afterKill.error).toMatch(/exited outside the platform with code 137 \(SIGKILL\)/);
      expect(
        events.some(
          (e) => e.type === "vm.stopped" && (e.data as { vm: { id: string } }).vm.id === killed.id,
        ),
      ).toBe(true);
      // Its files are kept: it starts again, and the reason is cleared.
      expect(await manager.start(killed.id)).toMatchObject({ status: "running", error: null });

      await backend.docker.getContainer(`aetherium-${removed.id}`).remove({ force: true });
      const afterRemove = await waitFor(async () => {
        const r = await repos.vms.get(removed.id);
        return r?.status === "lost" && r;
      }, "removed sandbox to be lost");
      expect(afterRemove.error).toMatch(/removed outside the platform/);
      // Nothing is left on the host for it: its run directory (a tmpfs mount) is gone too.
      const runDir = path.dirname(backend.agentSocketPath(removed.id));
      await waitFor(
        async () =>
          !(await stat(runDir).then(
            () => true,
            () => false,
          )),
        "the removed sandbox's run directory to go",
      );

      await manager.stop(stopped.id);
      await manager.delete(killed.id);
      // Give the stop's and delete's events time to arrive: they must not be taken for crashes.
      await new Promise((r) => setTimeout(r, 1000));
      expect(await repos.vms.get(stopped.id)).toMatchObject({ status: "stopped", error: null });
      expect((await repos.vms.get(killed.id))?.status).toBe("deleted");
      await manager.delete(stopped.id);
      await manager.delete(removed.id);
    } finally {
      stopWatching();
    }
  });

  it("finds a killed container in a periodic pass when no event came", async () => {
    const row = await newVm("missed-event");
    await manager.create(row.id);
    await backend.docker.getContainer(`aetherium-${row.id}`).kill();
    await waitFor(
      async () => (await backend.inspect(row.id)).state !== "running",
      "container to exit",
    );
    const result = await manager.reconcile({ atStartup: false });
    expect(result.markedStopped).toEqual([row.id]);
    expect((await repos.vms.get(row.id))?.error).toMatch(/code 137/);
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
