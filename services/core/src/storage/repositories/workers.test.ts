import { useTestDatabase } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "../database.js";
import { Migrator } from "../migrator.js";
import { WorkerRepository } from "./workers.js";

const pgDb = useTestDatabase();

describe.each([["postgres"], ["pglite"]] as const)("WorkerRepository on %s", (engine) => {
  let handle: DatabaseHandle;
  let workers: WorkerRepository;

  beforeAll(async () => {
    handle = await openDatabase(
      engine === "postgres" ? { url: pgDb.current.url } : { pglite: "memory://" },
    );
    await new Migrator(handle.db).up();
    workers = new WorkerRepository(handle.db);
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("registers, re-registers and keeps a drain across restarts", async () => {
    const w = await workers.register({
      id: "w-a",
      hostname: "host-a",
      address: "10.0.0.1:9000",
      backends: ["docker"],
      zone: "z1",
      labels: { gpu: "no" },
      capacity: { vcpus: 8, memoryMb: 16384, maxVms: 20 },
      version: "0.1.0",
    });
    expect(w).toMatchObject({
      status: "active",
      backends: ["docker"],
      capacityVcpus: 8,
      capacityMemoryMb: 16384,
      maxVms: 20,
      usedVms: 0,
    });
    await workers.setStatus("w-a", "draining");
    const again = await workers.register({
      id: "w-a",
      hostname: "host-a",
      address: "10.0.0.1:9001",
      backends: ["docker", "qemu"],
    });
    expect(again).toMatchObject({
      status: "draining",
      address: "10.0.0.1:9001",
      backends: ["docker", "qemu"],
    });
    expect(again.createdAt).toEqual(w.createdAt);
    await workers.setStatus("w-a", "offline");
    expect((await workers.register({ id: "w-a", hostname: "h", address: "a" })).status).toBe(
      "active",
    );
  });

  it("heartbeats, revives offline workers and finds stale ones", async () => {
    await workers.register({ id: "w-b", hostname: "host-b", address: "b" });
    await handle.db
      .updateTable("workers")
      .set({ lastSeenAt: new Date(Date.now() - 120_000), status: "offline" })
      .where("id", "=", "w-b")
      .execute();
    await workers.register({ id: "w-c", hostname: "host-c", address: "c" });
    await handle.db
      .updateTable("workers")
      .set({ lastSeenAt: new Date(Date.now() - 120_000) })
      .where("id", "=", "w-c")
      .execute();

    const stale = await workers.listStale(new Date(Date.now() - 60_000));
    // w-b is already offline: the reaper has nothing left to do for it.
    expect(stale.map((w) => w.id)).toEqual(["w-c"]);

    const beat = await workers.heartbeat("w-b", { vcpus: 2, memoryMb: 1024, vms: 1 });
    expect(beat).toMatchObject({ status: "active", usedVcpus: 2, usedMemoryMb: 1024, usedVms: 1 });
    expect(beat?.lastSeenAt.getTime()).toBeGreaterThan(Date.now() - 10_000);
    expect(await workers.heartbeat("unknown")).toBeUndefined();

    expect((await workers.get("w-b"))?.hostname).toBe("host-b");
    expect(await workers.get("nope")).toBeUndefined();
    expect((await workers.list()).map((w) => w.id)).toEqual(expect.arrayContaining(["w-b", "w-c"]));
    await workers.setStatus("w-c", "draining");
    expect((await workers.list({ status: "draining" })).map((w) => w.id)).toContain("w-c");
  });
});
