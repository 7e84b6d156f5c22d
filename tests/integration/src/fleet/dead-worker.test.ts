import { randomUUID } from "node:crypto";
import { createLogger, loadConfig, type Config } from "@aetherium/common";
import type { DomainEvent } from "@aetherium/types";
import {
  advisoryExclusive,
  openControlPlane,
  Reaper,
  REAPER_LOCK_KEY,
  startReaper,
  type ControlPlane,
} from "@aetherium/core";
import { useTestDatabase, useTestRedis, TEST_ENCRYPTION_KEY } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkerProcess, waitFor, type WorkerProcess } from "./fleet.js";

// A gateway-side reaper (no worker left to run one) against real worker processes killed with
// SIGKILL, on one PostgreSQL database and one Redis.
const db = useTestDatabase();
const redis = useTestRedis();
let runtime: ControlPlane;
let config: Config;
const workers: WorkerProcess[] = [];
const events: DomainEvent[] = [];
const logger = createLogger({ level: "silent", format: "json", service: "dead-worker-test" });

async function startWorker(id: string): Promise<WorkerProcess> {
  const w = await startWorkerProcess({
    id,
    databaseUrl: db.current.url,
    redisUrl: redis.current.url,
    keyPrefix: redis.current.prefix,
    heartbeatMs: 300,
  });
  workers.push(w);
  return w;
}

const runs = (taskId: string) =>
  redis.current.client.lrange(`${redis.current.prefix}runs:${taskId}`, 0, -1);

beforeAll(async () => {
  config = loadConfig({
    env: {
      AETHERIUM_DATABASE_URL: db.current.url,
      AETHERIUM_REDIS_URL: redis.current.url,
      AETHERIUM_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      AETHERIUM_REDIS__KEY_PREFIX: redis.current.prefix,
      // What the worker processes use (fleet.ts): a dead one is offline after 1.2 s.
      AETHERIUM_WORKER__HEARTBEAT_MS: "300",
      AETHERIUM_WORKER__OFFLINE_AFTER_MS: "1200",
    },
  });
  runtime = await openControlPlane(config, { logger, migrate: true });
  runtime.bus.subscribe(["task.*", "vm.*", "worker.*"], (e) => {
    events.push(e);
  });
}, 60_000);

afterAll(async () => {
  for (const w of workers) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    await w.exited;
  }
  await runtime?.close();
});

describe("a dead worker with no other worker left", () => {
  it("is settled by the gateway's reaper: task failed, execution ended with its output, create placed again", async () => {
    await startWorker("lone");
    const { vm, taskId: made } = await runtime.vms.create({ name: "held" });
    await waitFor(
      async () => (await runtime.tasks.get(made)).status === "succeeded",
      "the first sandbox",
    );

    // A create still building and an async exec still running when the worker dies.
    const slow = await runtime.vms.create({
      name: "half-made",
      labels: { "test-sleep-ms": "60000" },
    });
    const executionId = randomUUID();
    const exec = await runtime.tasks.submit(
      "vm:execute",
      { vmId: vm.id, executionId, command: "print-then-sleep 60" },
      { vmId: vm.id, ownerWorkerId: "lone" },
    );
    await waitFor(
      async () =>
        (await runtime.tasks.get(slow.taskId)).status === "running" &&
        (await runtime.repos.executions.get(executionId))?.stdout,
      "the create and the exec to be under way",
    );
    // The record a synchronous or WebSocket exec keeps open on that worker while it streams.
    const streamed = await runtime.repos.executions.create({ vmId: vm.id, command: "bash" });
    const lone = workers[0]!;
    lone.child.kill("SIGKILL");
    expect(await lone.exited).toBe("SIGKILL");

    // What `aetherium gateway` runs: the only process left that can notice.
    const reaper = startReaper(runtime, config, logger);
    try {
      // A follower of the task (`?wait=true`, SDK, CLI) is told through this event.
      const told = await waitFor(
        () =>
          Promise.resolve(
            events.find(
              (e): e is Extract<DomainEvent, { type: "task.failed" }> =>
                e.type === "task.failed" && e.data.task.id === exec.id,
            ),
          ),
        "the exec task's failure to be published",
        20_000,
      );
      expect(told.data.task.error).toMatch(/worker lone went offline/);
    } finally {
      await reaper.stop();
    }

    expect((await runtime.workers.get("lone")).status).toBe("offline");
    expect((await runtime.vms.get(vm.id)).status).toBe("lost");
    const execution = await runtime.repos.executions.get(executionId);
    expect(execution?.completedAt).toBeInstanceOf(Date);
    expect(execution?.error).toMatch(/worker lone went offline/);
    expect(execution?.stdout).toBe("line 1 on lone\n");
    const stream = await runtime.repos.executions.get(streamed.id);
    expect(stream?.completedAt).toBeInstanceOf(Date);
    expect(stream?.error).toMatch(/worker lone went offline/);

    // The half-made sandbox waits for a healthy worker instead of being lost…
    const waiting = await runtime.vms.get(slow.vm.id);
    expect(waiting.status).toBe("pending");
    expect(waiting.workerId).toBeNull();
    const requeued = await runtime.tasks.get(slow.taskId);
    expect(requeued.status).toBe("queued");
    expect(requeued.workerId).toBeNull();

    // …and is built by the next one that comes.
    // (Built quickly this time: the slow label only kept the first attempt under way.)
    await runtime.db.db
      .updateTable("vms")
      .set({ labels: JSON.stringify({}) })
      .where("id", "=", slow.vm.id)
      .execute();
    await startWorker("rescuer");
    const done = await waitFor(
      async () => {
        const t = await runtime.tasks.get(slow.taskId);
        return ["succeeded", "failed"].includes(t.status) && t;
      },
      "the placed-again create to finish",
      90_000,
    );
    expect(done).toMatchObject({ status: "succeeded", workerId: "rescuer" });
    expect(await runs(slow.taskId)).toEqual(["lone", "rescuer"]);
    expect(await runs(exec.id)).toEqual(["lone"]);
  }, 150_000);

  it("lets one reaper sweep at a time across processes", async () => {
    const exclusive = advisoryExclusive(runtime.db, REAPER_LOCK_KEY);
    const other = new Reaper({
      repos: runtime.repos,
      bus: runtime.bus,
      queue: runtime.queue,
      offlineAfterMs: 1200,
      exclusive: advisoryExclusive(runtime.db, REAPER_LOCK_KEY),
    });
    // The lock is per database session: the other reaper's sweep runs on another connection.
    const whileHeld = await exclusive(() => other.sweep());
    expect(whileHeld?.ran).toBe(false);
    expect((await other.sweep()).ran).toBe(true);
  });
});
