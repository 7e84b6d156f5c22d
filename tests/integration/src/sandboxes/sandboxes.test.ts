import { randomBytes, randomUUID } from "node:crypto";
import { DockerBackend, type WorkerSandboxes } from "@aetherium/worker";
import { type ControlPlane } from "@aetherium/core";
import type { Task } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../fleet/fleet.js";
import { dockerSandboxesHere, startTestWorker, type TestWorker } from "../fixtures/test-worker.js";

// The whole embedded chain a user's request takes: row → in-process queue → worker → Docker →
// guest agent → executions row, with the real engine and the real base image.
const here = await dockerSandboxesHere();
const canRun = here.ok;
if (!canRun) console.warn(`skipping sandbox chain tests: ${here.detail}`);

describe.skipIf(!canRun)("sandboxes end to end on the embedded stack", () => {
  const workerId = `chain-${randomBytes(4).toString("hex")}`;
  let runtime: ControlPlane;
  let sandboxes: WorkerSandboxes;
  let fixture: TestWorker;

  const finished = (id: string): Promise<Task> =>
    waitFor(
      async () => {
        const t = await runtime.tasks.get(id);
        return ["succeeded", "failed", "cancelled"].includes(t.status) && t;
      },
      `task ${id}`,
      60_000,
    );

  beforeAll(async () => {
    fixture = await startTestWorker(
      "chain",
      {
        AETHERIUM_WORKER_ID: workerId,
        AETHERIUM_SANDBOX__WARM_POOL_SIZE: "1",
      },
      { sandbox: { poolIntervalMs: 200 } },
    );
    ({ runtime, sandboxes } = fixture);
  }, 300_000);

  afterAll(async () => {
    await fixture?.close();
  }, 60_000);

  it("offers Docker once the engine answers and the image exists", () => {
    expect(sandboxes.backends).toEqual(["docker"]);
    expect(sandboxes.status.find((s) => s.backend === "docker")).toMatchObject({ ready: true });
  });

  it("creates a sandbox through the queue, runs commands in it, records them, and deletes it", async () => {
    // Not the default shape, so it is built through the queue rather than claimed from the pool.
    const { vm, taskId } = await runtime.vms.create({
      name: "chain",
      memoryMb: 256,
      labels: { team: "qa" },
    });
    expect(vm.status).toBe("pending");
    const created = await finished(taskId);
    expect(created).toMatchObject({ status: "succeeded", workerId, attempts: 1 });
    expect(await runtime.vms.get(vm.id)).toMatchObject({ status: "running", workerId });

    const executionId = randomUUID();
    const exec = await runtime.tasks.submit(
      "vm:execute",
      { vmId: vm.id, executionId, command: "echo hello; exit 3" },
      { vmId: vm.id, ownerWorkerId: workerId },
    );
    const done = await finished(exec.id);
    // A non-zero exit is a successful task that carries the code, run once.
    expect(done).toMatchObject({
      status: "succeeded",
      attempts: 1,
      result: { executionId, exitCode: 3 },
    });
    const row = await runtime.repos.executions.get(executionId);
    expect(row).toMatchObject({ vmId: vm.id, taskId: exec.id, exitCode: 3, stdout: "hello\n" });

    const del = await runtime.vms.delete(vm.id);
    expect(del).not.toBeNull();
    expect((await finished(del!.id)).status).toBe("succeeded");
    expect((await runtime.vms.get(vm.id)).status).toBe("deleted");
    expect((await new DockerBackend().list({ workerId })).map((s) => s.sandboxId)).not.toContain(
      vm.id,
    );
  });

  it("lets a 45 s command finish: no 30 s cap anywhere between queue, worker and agent", async () => {
    const { vm, taskId } = await runtime.vms.create({ name: "long", memoryMb: 256 });
    expect((await finished(taskId)).status).toBe("succeeded");
    const exec = await runtime.tasks.submit(
      "vm:execute",
      { vmId: vm.id, executionId: randomUUID(), command: "sleep 45; echo finished" },
      { vmId: vm.id, ownerWorkerId: workerId },
    );
    const done = await waitFor(
      async () => {
        const t = await runtime.tasks.get(exec.id);
        return ["succeeded", "failed", "cancelled"].includes(t.status) && t;
      },
      "the 45 s command",
      90_000,
    );
    expect(done).toMatchObject({ status: "succeeded", result: { exitCode: 0 } });
    const row = await runtime.repos.executions.get(
      (done.result as { executionId: string }).executionId,
    );
    expect(row?.stdout).toBe("finished\n");
    expect(row?.durationMs).toBeGreaterThanOrEqual(45_000);
    await sandboxes.managers.of("docker")!.delete(vm.id);
  }, 120_000);

  it("serves a default-shaped create from the warm pool, applies its env, and refills the pool", async () => {
    const warmReady = () =>
      runtime.repos.vms
        .list({ includePool: true, workerId, status: "running" })
        .then((p) => p.items.filter((v) => (v.metadata as { pool?: string }).pool === "warm"));
    const [warm] = await waitFor(
      async () => {
        const ready = await warmReady();
        return ready.length > 0 && ready;
      },
      "a warm sandbox",
      60_000,
    );
    // Unclaimed pool sandboxes are nobody's: lists do not show them.
    expect((await runtime.vms.list()).items.map((v) => v.id)).not.toContain(warm!.id);

    const { vm, taskId } = await runtime.vms.create({ name: "claimed", env: { GREETING: "hi" } });
    expect(vm).toMatchObject({ id: warm!.id, name: "claimed", status: "running", workerId });
    expect(await runtime.tasks.get(taskId)).toMatchObject({
      status: "succeeded",
      result: { fromWarmPool: true },
    });
    const out = await sandboxes.managers
      .of("docker")!
      .exec(vm.id, { command: 'printf "%s" "$GREETING"' });
    expect(out.stdout).toBe("hi");

    const refilled = await waitFor(
      async () => {
        const ready = await warmReady();
        return ready.length > 0 && ready.every((v) => v.id !== vm.id) && ready;
      },
      "the pool to refill",
      60_000,
    );
    expect(refilled).toHaveLength(1);
    await sandboxes.managers.of("docker")!.delete(vm.id);
  });
});
