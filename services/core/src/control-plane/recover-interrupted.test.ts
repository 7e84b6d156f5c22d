import { randomUUID } from "node:crypto";
import { InMemoryEventBus } from "@aetherium/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InProcessJobQueue } from "../queue/in-process-queue.js";
import { createQueueName, workerQueueName } from "../routing/routing.js";
import { openDatabase, type DatabaseHandle } from "../storage/database.js";
import { Migrator } from "../storage/migrator.js";
import {
  createRepositories,
  type Repositories,
} from "../storage/repositories/create-repositories.js";
import { recoverInterruptedWork } from "./recover-interrupted.js";

// What a SIGKILLed single-process install leaves in its database, settled by the next start.
let handle: DatabaseHandle;
let repos: Repositories;
const bus = new InMemoryEventBus();
const queue = new InProcessJobQueue();
const workerId = "embedded";

beforeAll(async () => {
  handle = await openDatabase({ pglite: "memory://" });
  await new Migrator(handle.db).up();
  repos = createRepositories(handle.db);
  await repos.workers.register({ id: workerId, hostname: "h", address: "http://127.0.0.1:1" });
});
afterAll(async () => {
  await queue.close();
  await bus.close();
  await handle.close();
});

async function task(type: "vm:create" | "vm:execute", payload: object, queueName: string) {
  const id = randomUUID();
  await repos.tasks.create({
    id,
    status: "queued",
    type,
    queue: queueName,
    maxAttempts: type === "vm:create" ? 3 : 1,
    payload: { ...payload, taskId: id },
  });
  return id;
}

describe("recoverInterruptedWork", () => {
  it("requeues queued work, retries an interrupted create, fails an interrupted command and ends its execution", async () => {
    const own = workerQueueName(workerId);
    const shared = createQueueName({ backend: "docker" });
    const held = await repos.vms.create({ name: "held", backend: "docker" });
    await repos.vms.assignWorker(held.id, workerId);
    await repos.vms.updateStatus(held.id, ["pending"], "running");
    const building = await repos.vms.create({ name: "building", backend: "docker" });
    await repos.vms.assignWorker(building.id, workerId);
    await repos.vms.updateStatus(building.id, ["pending"], "creating");
    const waiting = await repos.vms.create({ name: "waiting", backend: "docker" });

    const createRunning = await task("vm:create", { vmId: building.id }, shared);
    await repos.tasks.markRunning(createRunning, workerId);
    const createQueued = await task("vm:create", { vmId: waiting.id }, shared);
    const executionId = randomUUID();
    const execRunning = await task(
      "vm:execute",
      { vmId: held.id, executionId, command: "sleep 60" },
      own,
    );
    await repos.tasks.markRunning(execRunning, workerId);
    await repos.executions.create({ id: executionId, vmId: held.id, command: "sleep 60" });
    await repos.executions.recordProgress(executionId, { stdout: "so far\n" });

    const result = await recoverInterruptedWork({ repos, queue, bus });

    expect(result.requeued.sort()).toEqual([createRunning, createQueued].sort());
    expect(result.failed).toEqual([execRunning]);
    expect(result.endedExecutions).toEqual([executionId]);
    expect((await queue.counts(shared)).waiting).toBe(2);
    expect(await repos.tasks.get(createRunning)).toMatchObject({
      status: "queued",
      workerId: null,
    });
    expect(await repos.vms.get(building.id)).toMatchObject({ status: "pending", workerId: null });
    const failed = await repos.tasks.get(execRunning);
    expect(failed?.status).toBe("failed");
    expect(failed?.error).toMatch(/stopped before it finished; vm:execute is not re-run/);
    const execution = await repos.executions.get(executionId);
    expect(execution).toMatchObject({ stdout: "so far\n", exitCode: null });
    expect(execution?.error).toMatch(/stopped before the command finished/);
    expect(execution?.completedAt).toBeInstanceOf(Date);

    // A second start finds nothing left to settle but the queued work it put back.
    const again = await recoverInterruptedWork({ repos, queue, bus });
    expect(again.failed).toEqual([]);
    expect(again.endedExecutions).toEqual([]);
    expect((await queue.counts(shared)).waiting).toBe(2);
  });
});
