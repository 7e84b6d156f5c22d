import { MASKED_ENV_VALUE, executionSchema, pageSchema, taskSchema } from "@aetherium/types";
import { beforeAll, describe, expect, it } from "vitest";
import { expectEnvelope, useGatewayFixture } from "../testing/gateway-fixture.js";

// No worker process runs: a sandbox is marked running on a registered worker whose queue nobody
// consumes, so what a queued command leaves behind (its task, its record) stays to be read.
const gw = useGatewayFixture();
const call = gw.call;
let running: string;

beforeAll(async () => {
  const { repos } = gw.runtime;
  await repos.workers.register({
    id: "w-exec",
    hostname: "h",
    address: "http://127.0.0.1:1",
    internalToken: "exec-token",
  });
  const vm = await repos.vms.create({
    name: "runs-here",
    backend: "docker",
    image: "img",
    vcpus: 1,
    memoryMb: 512,
    workerId: "w-exec",
  });
  await repos.vms.updateStatus(vm.id, "pending", "running");
  running = vm.id;
});

describe("execute", () => {
  it("refuses to exec in a sandbox that is not running", async () => {
    // Recorded directly: the one registered worker offers no capacity for a create.
    const pending = await gw.runtime.repos.vms.create({
      name: "not-yet",
      backend: "docker",
      image: "img",
      vcpus: 1,
      memoryMb: 512,
    });
    const made = { body: { vm: pending } };
    const exec = await call("POST", `/api/v1/vms/${made.body.vm.id}/execute`, {
      body: { command: "true" },
    });
    expect(exec.status).toBe(409);
    expectEnvelope(exec.body, "conflict");
    expect(
      (await call("POST", `/api/v1/vms/${made.body.vm.id}/execute`, { body: {} })).status,
    ).toBe(400);
    const queued = await call("POST", `/api/v1/vms/${made.body.vm.id}/execute?async=true`, {
      body: { command: "true" },
    });
    expect(queued.status).toBe(409);
    expectEnvelope(queued.body, "conflict");
  });

  it("queues a command whole for the worker serving the sandbox, readable at once", async () => {
    const spec = {
      command: "printenv",
      args: ["TOKEN"],
      env: { TOKEN: "s3cret-exec" },
      cwd: "/tmp",
      user: "root",
      stdin: "input",
      timeoutMs: 5000,
    };
    const r = await call("POST", `/api/v1/vms/${running}/execute?async=true`, { body: spec });
    expect(r.status).toBe(202);
    const { executionId, taskId } = r.body as { executionId: string; taskId: string };

    const task = taskSchema.parse((await call("GET", `/api/v1/tasks/${taskId}`)).body.task);
    expect(task).toMatchObject({ type: "vm:execute", vmId: running, status: "queued" });
    expect(task.payload).toEqual({
      ...spec,
      env: { TOKEN: MASKED_ENV_VALUE },
      vmId: running,
      executionId,
      taskId,
    });
    const row = await gw.runtime.repos.tasks.get(taskId);
    expect(row?.queue).toMatch(/w-exec/);

    const execution = executionSchema.parse(
      (await call("GET", `/api/v1/executions/${executionId}`)).body.execution,
    );
    expect(execution).toMatchObject({
      vmId: running,
      command: "printenv",
      args: ["TOKEN"],
      exitCode: null,
      completedAt: null,
    });
    expect(JSON.stringify(execution)).not.toContain("s3cret-exec");
    const listed = pageSchema(executionSchema).parse(
      (await call("GET", `/api/v1/vms/${running}/executions`)).body,
    );
    expect(listed.items.map((e) => e.id)).toContain(executionId);
  });

  it("gives back the first execution for a replayed Idempotency-Key", async () => {
    const headers = { "idempotency-key": "exec-once-1" };
    const route = `/api/v1/vms/${running}/execute?async=true`;
    const a = await call("POST", route, { body: { command: "date" }, headers });
    const b = await call("POST", route, { body: { command: "date" }, headers });
    expect(a.status).toBe(202);
    expect(b.body).toEqual(a.body);
    const tasks = await call("GET", `/api/v1/tasks?type=vm:execute&vmId=${running}`);
    const ids = (tasks.body.items as { id: string }[]).map((t) => t.id);
    expect(ids.filter((id) => id === a.body.taskId)).toHaveLength(1);
  });

  it("answers 503, not 401, when the serving worker cannot be reached", async () => {
    // The worker's address is a closed loopback port: the caller's key was fine all along.
    const r = await call("POST", `/api/v1/vms/${running}/execute`, { body: { command: "true" } });
    expect(r.status).toBe(503);
    expectEnvelope(r.body, "unavailable");
  });
});
