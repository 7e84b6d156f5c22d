import { randomUUID } from "node:crypto";
import { createLogger, loadConfig } from "@aetherium/common";
import type { DomainEvent } from "@aetherium/types";
import { Migrator, openControlPlane, Reaper, type ControlPlane } from "@aetherium/core";
import { useTestDatabase, useTestRedis, TEST_ENCRYPTION_KEY } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkerProcess, waitFor, type WorkerProcess } from "./fleet.js";

// Several real worker processes against one PostgreSQL database and one Redis.
const db = useTestDatabase();
const redis = useTestRedis();
let runtime: ControlPlane;
const workers = new Map<string, WorkerProcess>();
const events: DomainEvent[] = [];

const logger = createLogger({ level: "silent", format: "json", service: "fleet-test" });

async function startWorker(
  id: string,
  extra: { zone?: string; maxVms?: number; vcpus?: number } = {},
) {
  const w = await startWorkerProcess({
    id,
    databaseUrl: db.current.url,
    redisUrl: redis.current.url,
    keyPrefix: redis.current.prefix,
    ...extra,
  });
  workers.set(id, w);
  return w;
}

const runs = (taskId: string) =>
  redis.current.client.lrange(`${redis.current.prefix}runs:${taskId}`, 0, -1);
const task = (id: string) => runtime.tasks.get(id);
const finished = (id: string) =>
  waitFor(async () => {
    const t = await task(id);
    return ["succeeded", "failed", "cancelled"].includes(t.status) && t;
  }, `task ${id} to finish`);

beforeAll(async () => {
  const config = loadConfig({
    env: {
      AETHERIUM_DATABASE_URL: db.current.url,
      AETHERIUM_REDIS_URL: redis.current.url,
      AETHERIUM_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      AETHERIUM_REDIS__KEY_PREFIX: redis.current.prefix,
    },
  });
  runtime = await openControlPlane(config, { logger, migrate: true });
  runtime.bus.subscribe(["task.*", "vm.*", "worker.*"], (e) => {
    events.push(e);
  });
  await startWorker("worker-a");
  await startWorker("worker-b");
}, 90_000);

afterAll(async () => {
  for (const w of workers.values()) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    await w.exited;
  }
  await runtime?.close();
});

describe("a fleet of worker processes", () => {
  it("runs a task's whole life: row, queue, worker, result, events", async () => {
    const { vm, taskId } = await runtime.vms.create({
      name: "life",
      labels: { "test-sleep-ms": "100" },
    });
    expect(vm.status).toBe("pending");
    const queued = await task(taskId);
    expect(["queued", "running", "succeeded"]).toContain(queued.status);
    const done = await finished(taskId);
    expect(done).toMatchObject({ status: "succeeded", attempts: 1, error: null });
    expect(["worker-a", "worker-b"]).toContain(done.workerId);
    expect(done.result).toMatchObject({ vmId: vm.id });
    expect(done.startedAt).not.toBeNull();
    expect(done.completedAt).not.toBeNull();
    const after = await runtime.vms.get(vm.id);
    expect(after).toMatchObject({ status: "running", workerId: done.workerId });
    await waitFor(
      () =>
        Promise.resolve(
          events.some(
            (e) =>
              e.type === "task.succeeded" &&
              (e.data as { task: { id: string } }).task.id === taskId,
          ),
        ),
      "task.succeeded event",
    );
    const types = events
      .filter((e) => (e.data as { task?: { id: string } }).task?.id === taskId)
      .map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining(["task.created", "task.started", "task.succeeded"]),
    );
  });

  it("routes jobs on a sandbox to the worker that owns it, never another", async () => {
    const { vm, taskId } = await runtime.vms.create({ name: "routed" });
    const owner = (await finished(taskId)).workerId!;
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const t = await runtime.tasks.submit(
        "vm:execute",
        { vmId: vm.id, executionId: randomUUID(), command: "exit 0" },
        { vmId: vm.id, ownerWorkerId: owner },
      );
      ids.push(t.id);
    }
    for (const id of ids) {
      const t = await finished(id);
      expect(t.workerId).toBe(owner);
      expect(await runs(id)).toEqual([owner]);
    }
  });

  it("reports a non-zero exit as a successful task and does not run it again", async () => {
    const { vm, taskId } = await runtime.vms.create({ name: "exit3" });
    const owner = (await finished(taskId)).workerId!;
    const t = await runtime.tasks.submit(
      "vm:execute",
      { vmId: vm.id, executionId: randomUUID(), command: "exit 3" },
      { vmId: vm.id, ownerWorkerId: owner },
    );
    const done = await finished(t.id);
    expect(done).toMatchObject({ status: "succeeded", attempts: 1, result: { exitCode: 3 } });
    expect(await runs(t.id)).toHaveLength(1);
  });

  it("gives a draining worker no new sandboxes, and takes it back when activated", async () => {
    await runtime.workers.drain("worker-a");
    // The drain reaches the worker with its next heartbeat.
    await new Promise((r) => setTimeout(r, 800));
    const taskIds: string[] = [];
    for (let i = 0; i < 6; i++)
      taskIds.push((await runtime.vms.create({ name: `drained-${i}` })).taskId);
    for (const id of taskIds) expect((await finished(id)).workerId).toBe("worker-b");
    expect((await runtime.workers.get("worker-a")).status).toBe("draining");
    await runtime.workers.activate("worker-a");
  });

  it("admits no more creates than a worker's capacity, says why the rest wait, and refuses what fits no worker", async () => {
    // Its own zone, so only this 2-vCPU worker takes these creates.
    const zone = "cap2";
    await startWorker("worker-cap", { zone, vcpus: 2 });
    const created = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        runtime.vms.create({ name: `cap-${i}`, vcpus: 1, memoryMb: 256 }, { zone }),
      ),
    );
    const ids = created.map((c) => c.vm.id);
    try {
      await capacityScenario();
    } finally {
      // This worker also serves the zone-less queue: it must not linger into later tests.
      const w = workers.get("worker-cap")!;
      for (const id of ids) {
        const t = await runtime.vms.delete(id).catch(() => null);
        if (t) await finished(t.id).catch(() => undefined);
      }
      w.child.kill("SIGTERM");
      await w.exited;
      workers.delete("worker-cap");
    }

    async function capacityScenario(): Promise<void> {
      const states = async () => Promise.all(ids.map((id) => runtime.vms.get(id)));
      const holding = (vms: { status: string }[]) =>
        vms.filter((v) => ["creating", "running"].includes(v.status)).length;
      let most = 0;
      const settled = await waitFor(async () => {
        const vms = await states();
        most = Math.max(most, holding(vms));
        const waiting = vms.filter((v) => v.status === "pending" && v.pendingReason);
        return (
          vms.filter((v) => v.status === "running").length === 2 && waiting.length === 3 && vms
        );
      }, "two running and three waiting with a reason");
      // Sample a while longer: the waiting jobs keep being offered and handed back.
      for (let i = 0; i < 20; i++) {
        most = Math.max(most, holding(await states()));
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(most).toBe(2);
      const waiting = settled.filter((v) => v.status === "pending");
      for (const v of waiting) {
        expect(v.pendingReason).toMatch(
          /^waiting for capacity: all 1 worker in zone "cap2" full for 1 vCPU and 256 MB \(2\/2 vCPUs/,
        );
        expect(v.workerId).toBeNull();
      }
      // Their tasks are still queued: waiting is not a failure and spends no attempt.
      for (const c of created.filter((c) => waiting.some((v) => v.id === c.vm.id))) {
        expect((await task(c.taskId)).status).toBe("queued");
      }

      // Freeing one vCPU lets exactly one more in, and its reason is gone.
      const first = settled.find((v) => v.status === "running")!;
      const del = await runtime.vms.delete(first.id);
      if (del) await finished(del.id);
      const after = await waitFor(async () => {
        const vms = await states();
        most = Math.max(most, holding(vms));
        return vms.filter((v) => v.status === "running").length === 2 && vms;
      }, "a waiting create to take the freed room");
      expect(most).toBe(2);
      for (const v of after.filter((v) => v.status === "running"))
        expect(v.pendingReason).toBeNull();

      // What no active worker could ever run is refused at once, saying what the fleet offers.
      const firecracker = await runtime.vms
        .create({ name: "cap-fc", backend: "firecracker" })
        .catch((e: unknown) => e);
      expect(firecracker).toMatchObject({ code: "bad_request" });
      expect((firecracker as Error).message).toMatch(
        /no active worker can run this sandbox \(backend "firecracker".*the fleet offers: .*worker-cap \(docker, zone cap2; 2 vCPUs/,
      );
      const huge = await runtime.vms
        .create({ name: "cap-huge", vcpus: 16 }, { zone })
        .catch((e: unknown) => e);
      expect(huge).toMatchObject({ code: "bad_request" });
      expect((await runtime.vms.list({ labels: {} })).items.map((v) => v.name)).not.toContain(
        "cap-fc",
      );
    }
  }, 90_000);

  it("recovers a create job from a worker killed with -9 mid-job, without losing it", async () => {
    const victim = await startWorker("worker-c");
    // Only the victim takes creates for a moment, so the job surely lands on it.
    await runtime.workers.drain("worker-a");
    await runtime.workers.drain("worker-b");
    await new Promise((r) => setTimeout(r, 800));
    const { taskId } = await runtime.vms.create({
      name: "killed",
      labels: { "test-sleep-ms": "4000" },
    });
    await waitFor(async () => (await task(taskId)).status === "running", "the create to start");
    expect((await task(taskId)).workerId).toBe("worker-c");
    await runtime.workers.activate("worker-a");
    await runtime.workers.activate("worker-b");
    victim.child.kill("SIGKILL");
    expect(await victim.exited).toBe("SIGKILL");

    const done = await waitFor(
      async () => {
        const t = await task(taskId);
        return t.status === "succeeded" && t;
      },
      "the recovered create to succeed",
      30_000,
    );
    expect(["worker-a", "worker-b"]).toContain(done.workerId);
    expect(done.attempts).toBe(2);
    // Interrupted once on the victim, completed once elsewhere: never run twice by surprise.
    expect(await runs(taskId)).toEqual(["worker-c", done.workerId]);
  });

  it("marks a silent worker offline, its sandboxes lost and its stranded tasks failed", async () => {
    const doomed = await startWorker("worker-d");
    await runtime.workers.drain("worker-a");
    await runtime.workers.drain("worker-b");
    await new Promise((r) => setTimeout(r, 800));
    const { vm, taskId } = await runtime.vms.create({ name: "doomed" });
    expect((await finished(taskId)).workerId).toBe("worker-d");
    await runtime.workers.activate("worker-a");
    await runtime.workers.activate("worker-b");
    const exec = await runtime.tasks.submit(
      "vm:execute",
      { vmId: vm.id, executionId: randomUUID(), command: "sleep 30" },
      { vmId: vm.id, ownerWorkerId: "worker-d" },
    );
    await waitFor(async () => (await task(exec.id)).status === "running", "the exec to start");
    doomed.child.kill("SIGKILL");
    await doomed.exited;

    const reaper = new Reaper({
      repos: runtime.repos,
      bus: runtime.bus,
      queue: runtime.queue,
      offlineAfterMs: 1200,
    });
    const result = await waitFor(
      async () => {
        const r = await reaper.sweep();
        return r.offlineWorkers.includes("worker-d") && r;
      },
      "the reaper to notice worker-d",
      10_000,
    );
    expect(result.lostVms).toContain(vm.id);
    expect((await runtime.workers.get("worker-d")).status).toBe("offline");
    expect((await runtime.vms.get(vm.id)).status).toBe("lost");
    const failed = await task(exec.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/worker-d went offline/);
    expect(await runs(exec.id)).toEqual(["worker-d"]);
  });

  it("shuts a worker down gracefully: it finishes its running job and goes offline", async () => {
    const { vm, taskId } = await runtime.vms.create({ name: "graceful" });
    const owner = (await finished(taskId)).workerId!;
    const exec = await runtime.tasks.submit(
      "vm:execute",
      { vmId: vm.id, executionId: randomUUID(), command: "sleep 1" },
      { vmId: vm.id, ownerWorkerId: owner },
    );
    await waitFor(async () => (await task(exec.id)).status === "running", "the exec to start");
    const w = workers.get(owner)!;
    w.child.kill("SIGTERM");
    expect(await w.exited).toBe(0);
    expect((await task(exec.id)).status).toBe("succeeded");
    expect((await runtime.workers.get(owner)).status).toBe("offline");
  });
});

describe("migrations on PostgreSQL", () => {
  it("are all applied by the first process", async () => {
    const status = await new Migrator(runtime.db.db).status();
    expect(status.pending).toEqual([]);
  });
});
