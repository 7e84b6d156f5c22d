import { randomUUID } from "node:crypto";
import {
  BadRequestError,
  ConflictError,
  InMemoryEventBus,
  NotFoundError,
  ValidationError,
} from "@aetherium/common";
import type { DomainEvent } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InProcessJobQueue } from "../queue/in-process-queue.js";
import { openDatabase, type DatabaseHandle } from "../storage/database.js";
import { Migrator } from "../storage/migrator.js";
import {
  createRepositories,
  type Repositories,
} from "../storage/repositories/create-repositories.js";
import { TaskService } from "./task-service.js";
import { VmService } from "./vm-service.js";
import { WorkerService } from "./worker-service.js";

// The embedded path: PGlite, the in-process queue and the in-memory bus, no worker consuming.
let handle: DatabaseHandle;
let repos: Repositories;
let queue: InProcessJobQueue;
let tasks: TaskService;
let vms: VmService;
let workers: WorkerService;
const bus = new InMemoryEventBus();
const events: DomainEvent[] = [];

beforeAll(async () => {
  handle = await openDatabase({ pglite: "memory://" });
  await new Migrator(handle.db).up();
  repos = createRepositories(handle.db);
  queue = new InProcessJobQueue();
  tasks = new TaskService(repos, queue, bus);
  vms = new VmService(repos, tasks, bus, {
    backend: "docker",
    image: "aetherium/base:test",
    vcpus: 1,
    memoryMb: 512,
    diskMb: 2048,
  });
  workers = new WorkerService(repos, queue, bus);
  bus.subscribe(["*"], (e) => {
    events.push(e);
  });
});
afterAll(async () => {
  await queue.close();
  await bus.close();
  await handle.close();
});

describe("VmService and TaskService", () => {
  it("records a sandbox and a queued create task, with events", async () => {
    const { vm, taskId } = await vms.create({
      name: "svc-a",
      env: { TOKEN: "s3cret" },
      labels: { team: "qa" },
    });
    expect(vm).toMatchObject({
      name: "svc-a",
      status: "pending",
      backend: "docker",
      image: "aetherium/base:test",
      vcpus: 1,
    });
    // Env values never leave through the API shape.
    expect(vm.env).toEqual({ TOKEN: "********" });
    const task = await tasks.get(taskId);
    expect(task).toMatchObject({
      type: "vm:create",
      status: "queued",
      vmId: vm.id,
      attempts: 0,
      maxAttempts: 3,
    });
    expect((await queue.counts("create.docker")).waiting).toBe(1);
    await bus.idle();
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(["vm.created", "task.created"]),
    );
  });

  it("rejects bad input with a message naming the field, and duplicate names with a conflict", async () => {
    const bad = await vms.create({ name: "x", vcpus: 1000 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ValidationError);
    expect((bad as ValidationError).message).toMatch(/vcpus/);
    await vms.create({ name: "dup" });
    await expect(vms.create({ name: "dup" })).rejects.toBeInstanceOf(ConflictError);
    await expect(vms.get(randomUUID())).rejects.toBeInstanceOf(NotFoundError);
  });

  it("returns the first result for a repeated Idempotency-Key", async () => {
    const first = await vms.create({ name: "idem" }, { idempotencyKey: "key-1" });
    const again = await vms.create({ name: "idem" }, { idempotencyKey: "key-1" });
    expect(again).toEqual(first);
  });

  it("extends a sandbox's timeout and refuses nonsense", async () => {
    const { vm } = await vms.create({ name: "ttl", timeoutSec: 60 });
    const before = Date.parse(vm.expiresAt!);
    const after = await vms.setTimeout(vm.id, 3600);
    expect(Date.parse(after.expiresAt!)).toBeGreaterThan(before + 3_000_000);
    await expect(vms.setTimeout(vm.id, -5)).rejects.toBeInstanceOf(ValidationError);
  });

  it("deletes a sandbox no worker has taken yet at once, cancelling its create task", async () => {
    const { vm, taskId } = await vms.create({ name: "unplaced" });
    expect(await vms.delete(vm.id)).toBeNull();
    expect((await vms.get(vm.id)).status).toBe("deleted");
    expect((await tasks.get(taskId)).status).toBe("cancelled");
    // The cancelled job is gone from the queue, so no worker will ever build it.
    const waiting = await queue.counts("create.docker");
    const stillQueued = (await tasks.list({ status: "queued", type: "vm:create" })).items.length;
    expect(waiting.waiting).toBe(stillQueued);
  });

  it("cancels a queued task and refuses to cancel a finished one", async () => {
    const { taskId } = await vms.create({ name: "cancel-me" });
    expect((await tasks.cancel(taskId)).status).toBe("cancelled");
    await expect(tasks.cancel(taskId)).rejects.toBeInstanceOf(ConflictError);
    await expect(tasks.cancel(randomUUID())).rejects.toBeInstanceOf(NotFoundError);
  });

  it("pages through tasks with a cursor and rejects a forged one", async () => {
    const page1 = await tasks.list({ limit: 2 });
    expect(page1.items).toHaveLength(2);
    expect(page1.nextCursor).not.toBeNull();
    const page2 = await tasks.list({ limit: 2, cursor: page1.nextCursor! });
    expect(page2.items.map((t) => t.id)).not.toContain(page1.items[0]!.id);
    await expect(tasks.list({ cursor: "garbage" })).rejects.toThrow(/cursor/);
  });
});

describe("TaskService with an event bus that fails", () => {
  it("still enqueues the job of the row it recorded, so nothing is left queued with no job", async () => {
    const failing = new InMemoryEventBus();
    failing.publish = () => Promise.reject(new Error("event bus down"));
    const own = new InProcessJobQueue();
    try {
      const service = new TaskService(repos, own, failing);
      const vm = await repos.vms.create({ name: "bus-down", backend: "docker" });
      const task = await service.submit(
        "vm:create",
        { vmId: vm.id },
        { vmId: vm.id, placement: { backend: "docker" } },
      );
      expect((await repos.tasks.get(task.id))?.status).toBe("queued");
      expect((await own.counts("create.docker")).waiting).toBe(1);
    } finally {
      await own.close();
      await failing.close();
    }
  });
});

describe("VmService when the bus or the queue fails", () => {
  const shape = {
    backend: "docker" as const,
    image: "aetherium/base:test",
    vcpus: 1,
    memoryMb: 512,
    diskMb: 2048,
  };

  it("queues the create of a sandbox whose vm.created could not be published", async () => {
    const failing = new InMemoryEventBus();
    failing.publish = () => Promise.reject(new Error("event bus down"));
    const own = new InProcessJobQueue();
    try {
      const service = new VmService(repos, new TaskService(repos, own, failing), failing, shape);
      const { vm, taskId } = await service.create({ name: "vm-bus-down" });
      expect(vm.status).toBe("pending");
      expect((await repos.tasks.get(taskId))?.status).toBe("queued");
      expect((await own.counts("create.docker")).waiting).toBe(1);
    } finally {
      await own.close();
      await failing.close();
    }
  });

  it("fails, with the reason, a sandbox whose create could not be queued", async () => {
    const own = new InProcessJobQueue();
    own.enqueue = () => Promise.reject(new Error("queue down"));
    try {
      const service = new VmService(repos, new TaskService(repos, own, bus), bus, shape);
      await expect(service.create({ name: "vm-queue-down" })).rejects.toThrow(/queue/);
      const row = await repos.vms.getByName("vm-queue-down");
      expect(row?.status).toBe("failed");
      expect(row?.error).toMatch(/could not be queued: .*queue down/);
    } finally {
      await own.close();
    }
  });
});

describe("WorkerService", () => {
  it("drains and activates a worker with events, and sums the fleet in cluster stats", async () => {
    await repos.workers.register({
      id: "w-stats",
      hostname: "h",
      address: "http://127.0.0.1:1",
      backends: ["docker"],
      zone: "eu",
      capacity: { vcpus: 4, memoryMb: 8192, maxVms: 10 },
    });
    expect((await workers.drain("w-stats")).status).toBe("draining");
    expect((await workers.activate("w-stats")).status).toBe("active");
    await bus.idle();
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(["worker.draining", "worker.activated"]),
    );
    const stats = await workers.clusterStats();
    expect(stats.workers).toMatchObject({ total: 1, active: 1, healthy: 1 });
    expect(stats.capacity).toEqual({ vcpus: 4, memoryMb: 8192, vms: 10 });
    expect(stats.zones).toEqual({ eu: 1 });
    expect(stats.queues["create.docker"]?.waiting).toBeGreaterThan(0);
    expect(stats.vms.pending).toBeGreaterThan(0);
    await expect(workers.drain("nope")).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe("VmService placement by zone", () => {
  it("queues a create that names a zone for that zone's workers, and refuses a zone no worker has", async () => {
    await repos.workers.register({
      id: "w-zone",
      hostname: "h",
      address: "http://127.0.0.1:1",
      backends: ["docker"],
      zone: "eu-west",
      capacity: { vcpus: 4, memoryMb: 8192, maxVms: 10 },
    });
    await vms.create({ name: "vm-zoned", zone: "eu-west" });
    const stats = await workers.clusterStats();
    expect(stats.queues["create.docker.eu-west"]?.waiting).toBe(1);
    await expect(vms.create({ name: "vm-on-mars", zone: "mars" })).rejects.toThrow(
      /no active worker can run this sandbox \(backend "docker" in zone "mars"/,
    );
    expect(await repos.vms.getByName("vm-on-mars")).toBeFalsy();
  });
});

describe("VmService with the backend setting auto", () => {
  // Its own database: the fleet here offers only what these tests register.
  let own: DatabaseHandle;
  let ownRepos: Repositories;
  let ownQueue: InProcessJobQueue;
  let service: VmService;
  const shape = { image: "aetherium/base:test", vcpus: 1, memoryMb: 512, diskMb: 2048 };

  beforeAll(async () => {
    own = await openDatabase({ pglite: "memory://" });
    await new Migrator(own.db).up();
    ownRepos = createRepositories(own.db);
    ownQueue = new InProcessJobQueue();
    service = new VmService(ownRepos, new TaskService(ownRepos, ownQueue, bus), bus, {
      backend: "auto",
      ...shape,
    });
  });
  afterAll(async () => {
    await ownQueue?.close();
    await own?.close();
  });

  it("with no active worker takes docker and waits for a worker", async () => {
    expect((await service.backends()).default).toBe("docker");
    const { vm } = await service.create({ name: "auto-no-fleet" });
    expect(vm).toMatchObject({ backend: "docker", status: "pending" });
    expect(vm.pendingReason).toMatch(/waiting for a worker/);
    expect(await service.delete(vm.id)).toBeNull();
  });

  it("lands on qemu when the fleet offers only qemu, and refuses docker asked explicitly", async () => {
    await ownRepos.workers.register({
      id: "w-qemu",
      hostname: "h",
      address: "http://127.0.0.1:1",
      backends: ["qemu"],
      capacity: { vcpus: 4, memoryMb: 8192, maxVms: 10 },
    });
    expect(await service.backends()).toEqual({
      backends: [
        { backend: "docker", offered: false, workers: 0 },
        { backend: "firecracker", offered: false, workers: 0 },
        { backend: "qemu", offered: true, workers: 1 },
      ],
      configured: "auto",
      default: "qemu",
    });
    const { vm, taskId } = await service.create({ name: "auto-qemu" });
    expect(vm.backend).toBe("qemu");
    expect((await ownRepos.tasks.get(taskId))?.queue).toBe("create.qemu");
    expect((await ownQueue.counts("create.qemu")).waiting).toBe(1);

    const refused = service.create({ name: "asks-docker", backend: "docker" });
    await expect(refused).rejects.toBeInstanceOf(BadRequestError);
    await expect(refused).rejects.toThrow(/backend "docker".*the fleet offers: w-qemu \(qemu;/);
    expect(await ownRepos.vms.getByName("asks-docker")).toBeFalsy();
    await service.delete(vm.id);
  });

  it("claims a warm sandbox of the backend it chose", async () => {
    const warm = await ownRepos.vms.create({
      name: "warm-qemu",
      backend: "qemu",
      status: "running",
      ...shape,
      workerId: "w-qemu",
      metadata: { pool: "warm" },
    });
    const { vm, taskId } = await service.create({ name: "auto-warm" });
    expect(vm).toMatchObject({
      id: warm.id,
      name: "auto-warm",
      backend: "qemu",
      status: "running",
    });
    expect((await ownRepos.tasks.get(taskId))?.status).toBe("succeeded");
    await ownRepos.vms.updateStatus(warm.id, "running", "deleted");
  });

  it("prefers firecracker, then docker, as workers offering them join", async () => {
    await ownRepos.workers.register({
      id: "w-docker",
      hostname: "h",
      address: "http://127.0.0.1:2",
      backends: ["docker"],
      capacity: { vcpus: 4, memoryMb: 8192, maxVms: 10 },
    });
    expect((await service.backends()).default).toBe("docker");
    await ownRepos.workers.register({
      id: "w-kvm",
      hostname: "h",
      address: "http://127.0.0.1:3",
      backends: ["firecracker", "qemu"],
      capacity: { vcpus: 4, memoryMb: 8192, maxVms: 10 },
    });
    const offer = await service.backends();
    expect(offer.default).toBe("firecracker");
    expect(offer.backends.find((b) => b.backend === "qemu")?.workers).toBe(2);
    const { vm } = await service.create({ name: "auto-kvm" });
    expect(vm.backend).toBe("firecracker");
    await service.delete(vm.id);
  });
});
