import { useTestDatabase } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "../database.js";
import { Migrator } from "../migrator.js";
import { ExecutionRepository } from "./executions.js";
import { VmRepository } from "./vms.js";

const pgDb = useTestDatabase();

describe.each([["postgres"], ["pglite"]] as const)("ExecutionRepository on %s", (engine) => {
  let handle: DatabaseHandle;
  let executions: ExecutionRepository;

  beforeAll(async () => {
    handle = await openDatabase(
      engine === "postgres" ? { url: pgDb.current.url } : { pglite: "memory://" },
    );
    await new Migrator(handle.db).up();
    executions = new ExecutionRepository(handle.db);
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("records a command, its outcome and duration", async () => {
    const vm = await new VmRepository(handle.db).create({ name: "exec-vm" });
    const started = await executions.create({
      vmId: vm.id,
      command: "ls",
      args: ["-la", "/tmp"],
      envKeys: ["API_TOKEN"],
      cwd: "/tmp",
      user: "aether",
    });
    expect(started).toMatchObject({
      command: "ls",
      args: ["-la", "/tmp"],
      envKeys: ["API_TOKEN"],
      user: "aether",
      exitCode: null,
      completedAt: null,
      stdout: "",
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const done = await executions.complete(started.id, {
      exitCode: 2,
      stdout: "out",
      stderr: "no such file",
      stderrTruncated: true,
    });
    expect(done).toMatchObject({ exitCode: 2, stdout: "out", stderrTruncated: true, error: null });
    expect(done?.completedAt).toBeInstanceOf(Date);
    expect(done?.durationMs).toBeGreaterThanOrEqual(15);
    expect(await executions.complete(started.id, { exitCode: 0 })).toBeUndefined();
    expect(await executions.get(started.id)).toEqual(done);
  });

  it("records a queued command at once; its start keeps the id and takes the real start time", async () => {
    const vm = await new VmRepository(handle.db).create({ name: "exec-queued-vm" });
    const id = "5d7f2b8e-0c1a-4e6b-9a55-3f1e2d4c6b7a";
    await executions.recordQueued({ id, vmId: vm.id, command: "make test" });
    const queued = await executions.get(id);
    expect(queued).toMatchObject({ command: "make test", completedAt: null, exitCode: null });
    await executions.recordQueued({ id, vmId: vm.id, command: "make test" }); // idempotent
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = await executions.create({ id, vmId: vm.id, command: "make test" });
    expect(started.id).toBe(id);
    expect(started.startedAt.getTime()).toBeGreaterThan(queued!.startedAt.getTime());
    expect(started.createdAt).toEqual(queued!.createdAt);
    await executions.complete(id, { exitCode: 0 });
    // Delivered again after it ran: refused, so the command cannot run twice.
    await expect(executions.create({ id, vmId: vm.id, command: "make test" })).rejects.toThrow(
      /already completed/,
    );
  });

  it("lists a vm's executions newest first, page by page", async () => {
    const vm = await new VmRepository(handle.db).create({ name: "exec-list-vm" });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await executions.create({ vmId: vm.id, command: `echo ${i}` })).id);
    }
    const first = await executions.listByVm(vm.id, { limit: 3 });
    const second = await executions.listByVm(vm.id, { limit: 3, cursor: first.nextCursor });
    expect(first.items).toHaveLength(3);
    expect(second.items).toHaveLength(2);
    expect(second.nextCursor).toBeNull();
    expect([...first.items, ...second.items].map((e) => e.id).sort()).toEqual(ids.sort());
    expect((await executions.listByVm("bad-id")).items).toEqual([]);
  });
});
