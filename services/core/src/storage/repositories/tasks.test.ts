import { useTestDatabase } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidCursorError } from "../cursor.js";
import { openDatabase, type DatabaseHandle } from "../database.js";
import { isUniqueViolation } from "../errors.js";
import { Migrator } from "../migrator.js";
import { TaskRepository } from "./tasks.js";
import { VmRepository } from "./vms.js";
import { WorkerRepository } from "./workers.js";

const pgDb = useTestDatabase();

describe.each([["postgres"], ["pglite"]] as const)("TaskRepository on %s", (engine) => {
  let handle: DatabaseHandle;
  let tasks: TaskRepository;

  beforeAll(async () => {
    handle = await openDatabase(
      engine === "postgres" ? { url: pgDb.current.url } : { pglite: "memory://" },
    );
    await new Migrator(handle.db).up();
    tasks = new TaskRepository(handle.db);
    await new WorkerRepository(handle.db).register({ id: "w1", hostname: "h1", address: "a1" });
    await new WorkerRepository(handle.db).register({ id: "w2", hostname: "h2", address: "a2" });
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("writes concurrent creates and completions in batches with each caller's own row", async () => {
    const made = await Promise.all(
      Array.from({ length: 30 }, (_, i) => tasks.create({ type: "vm:stop", payload: { n: i } })),
    );
    expect(made.map((t) => (t.payload as { n: number }).n)).toEqual([...Array(30).keys()]);
    // Half go through running first; half finish before their running mark was due.
    const slow = made.slice(0, 15);
    const fast = made.slice(15);
    for (const t of slow) await tasks.markRunning(t.id, "w1");
    const started = new Date(Date.now() - 5);
    const done = await Promise.all([
      ...slow.map((t, i) => tasks.markSucceeded(t.id, { i, snake_key: true })),
      ...fast.map((t, i) => tasks.markSucceededDirectly(t.id, "w2", started, { i })),
    ]);
    expect(done.every((d) => d?.status === "succeeded")).toBe(true);
    // The batched statements themselves worked; nothing fell back to one-by-one writes.
    expect(tasks.batchFailures).toBe(0);
    expect(done[3]).toMatchObject({
      id: slow[3]!.id,
      workerId: "w1",
      attempts: 1,
      result: { i: 3, snake_key: true },
    });
    expect(done[20]).toMatchObject({
      id: fast[5]!.id,
      workerId: "w2",
      attempts: 1,
      result: { i: 5 },
    });
    expect(done[20]?.startedAt?.getTime()).toBe(started.getTime());
    expect(done[20]?.completedAt).toBeInstanceOf(Date);
    // A finished task is not finished again, in a batch or alone.
    const again = await Promise.all([
      tasks.markSucceeded(slow[0]!.id, null),
      tasks.markSucceededDirectly(fast[0]!.id, "w1", started, null),
    ]);
    expect(again).toEqual([undefined, undefined]);
    expect(await tasks.markSucceededDirectly(fast[1]!.id, "w1", started, null)).toBeUndefined();
  });

  it("walks the happy life cycle", async () => {
    const vm = await new VmRepository(handle.db).create({ name: "task-vm" });
    const created = await tasks.create({
      type: "vm.create",
      payload: { name: "dev", nested_key: [1, 2] },
      vmId: vm.id,
    });
    expect(created).toMatchObject({
      status: "pending",
      attempts: 0,
      maxAttempts: 1,
      queue: "default",
      payload: { name: "dev", nested_key: [1, 2] },
      result: null,
      startedAt: null,
      completedAt: null,
    });
    expect(created.createdAt).toBeInstanceOf(Date);
    expect(await tasks.get(created.id)).toEqual(created);

    expect((await tasks.markQueued(created.id))?.status).toBe("queued");
    expect(await tasks.markQueued(created.id)).toBeUndefined();

    const running = await tasks.markRunning(created.id, "w1");
    expect(running).toMatchObject({ status: "running", workerId: "w1", attempts: 1 });
    expect(running?.startedAt).toBeInstanceOf(Date);
    // A second worker cannot claim it.
    expect(await tasks.markRunning(created.id, "w2")).toBeUndefined();
    expect((await tasks.listUnfinishedForWorker("w1")).map((t) => t.id)).toEqual([created.id]);

    const done = await tasks.markSucceeded(created.id, { vmId: vm.id, exit_code: 0 });
    expect(done).toMatchObject({ status: "succeeded", result: { vmId: vm.id, exit_code: 0 } });
    expect(done?.completedAt).toBeInstanceOf(Date);
    expect(await tasks.markFailed(created.id, "late")).toBeUndefined();
    expect(await tasks.markCancelled(created.id)).toBeUndefined();
    expect(await tasks.listUnfinishedForWorker("w1")).toEqual([]);
  });

  it("retries only while attempts remain, then fails", async () => {
    const t = await tasks.create({ type: "vm.delete", maxAttempts: 2 });
    await tasks.markRunning(t.id, "w1");
    const retry = await tasks.markRetrying(t.id, "agent unreachable");
    expect(retry).toMatchObject({ status: "queued", error: "agent unreachable", workerId: null });
    const second = await tasks.markRunning(t.id, "w2");
    expect(second).toMatchObject({ attempts: 2, workerId: "w2" });
    expect(await tasks.markRetrying(t.id, "again")).toBeUndefined();
    const failed = await tasks.markFailed(t.id, "gave up");
    expect(failed).toMatchObject({ status: "failed", error: "gave up", attempts: 2 });
  });

  it("cancels: request first, then the worker confirms", async () => {
    const queued = await tasks.create({ type: "prompt.run", status: "queued" });
    const requested = await tasks.requestCancel(queued.id);
    expect(requested?.cancelRequestedAt).toBeInstanceOf(Date);
    // A task whose cancel is pending never starts.
    expect(await tasks.markRunning(queued.id, "w1")).toBeUndefined();
    const again = await tasks.requestCancel(queued.id);
    expect(again?.cancelRequestedAt).toEqual(requested?.cancelRequestedAt);
    const cancelled = await tasks.markCancelled(queued.id);
    expect(cancelled).toMatchObject({ status: "cancelled" });
    expect(cancelled?.completedAt).toBeInstanceOf(Date);
    expect(await tasks.requestCancel(queued.id)).toBeUndefined();
  });

  it("finds tasks by idempotency key, per tenant", async () => {
    const t = await tasks.create({ type: "vm.create", idempotencyKey: "key-1" });
    expect((await tasks.findByIdempotencyKey("key-1"))?.id).toBe(t.id);
    expect(await tasks.findByIdempotencyKey("key-1", "other")).toBeUndefined();
    const dup = await tasks
      .create({ type: "vm.create", idempotencyKey: "key-1" })
      .catch((e: unknown) => e);
    expect(isUniqueViolation(dup, "tasks_tenant_idempotency_key")).toBe(true);
    await expect(
      tasks.create({ type: "vm.create", idempotencyKey: "key-1", tenant: "other" }),
    ).resolves.toBeDefined();
  });

  it("lists with filters and pages", async () => {
    const tenant = `list-${engine}`;
    for (let i = 0; i < 7; i++) {
      const t = await tasks.create({ tenant, type: i % 2 ? "odd" : "even" });
      if (i < 3) await tasks.markRunning(t.id, "w2");
    }
    const all = await tasks.list({ tenant });
    expect(all.items).toHaveLength(7);
    expect(all.nextCursor).toBeNull();
    expect((await tasks.list({ tenant, type: "odd" })).items).toHaveLength(3);
    expect((await tasks.list({ tenant, status: "running" })).items).toHaveLength(3);
    expect((await tasks.list({ tenant, status: ["pending", "running"] })).items).toHaveLength(7);
    expect((await tasks.list({ tenant, status: [] })).items).toHaveLength(0);
    expect((await tasks.list({ tenant, workerId: "w2" })).items).toHaveLength(3);
    expect((await tasks.list({ tenant, vmId: "not-a-uuid" })).items).toHaveLength(0);

    const first = await tasks.list({ tenant, limit: 4 });
    expect(first.items).toHaveLength(4);
    const second = await tasks.list({ tenant, limit: 4, cursor: first.nextCursor });
    expect(second.items).toHaveLength(3);
    expect(second.nextCursor).toBeNull();
    const ids = new Set([...first.items, ...second.items].map((t) => t.id));
    expect(ids.size).toBe(7);
    await expect(tasks.list({ cursor: "%%%" })).rejects.toBeInstanceOf(InvalidCursorError);
  });

  it("returns undefined for unknown or malformed ids", async () => {
    expect(await tasks.get("nope")).toBeUndefined();
    expect(await tasks.get("00000000-0000-0000-0000-000000000000")).toBeUndefined();
    expect(await tasks.markRunning("nope", "w1")).toBeUndefined();
  });
});
