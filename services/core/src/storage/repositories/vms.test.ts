import { sql } from "kysely";
import { useTestDatabase } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidCursorError, encodeCursor } from "../cursor.js";
import { openDatabase, type DatabaseHandle } from "../database.js";
import { Migrator } from "../migrator.js";
import { TokenSealer } from "../token-sealer.js";
import { VmRepository, type VmRow } from "./vms.js";
import { WorkerRepository } from "./workers.js";

const pgDb = useTestDatabase();

describe.each([["postgres"], ["pglite"]] as const)("VmRepository on %s", (engine) => {
  let handle: DatabaseHandle;
  let vms: VmRepository;

  beforeAll(async () => {
    handle = await openDatabase(
      engine === "postgres" ? { url: pgDb.current.url } : { pglite: "memory://" },
    );
    await new Migrator(handle.db).up();
    vms = new VmRepository(handle.db);
    const workers = new WorkerRepository(handle.db);
    await workers.register({ id: "w1", hostname: "h1", address: "a1" });
    await workers.register({ id: "w2", hostname: "h2", address: "a2" });
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("creates with defaults and JSON columns intact", async () => {
    const vm = await vms.create({
      name: "defaults",
      labels: { team: "core", "app.kubernetes.io/name": "x" },
      env: { SOME_VAR: "1" },
      tools: ["node@20", "python@3.12"],
      network: { egress: { allow: ["example.com"] } },
    });
    expect(vm).toMatchObject({
      tenant: "default",
      status: "pending",
      vcpus: 1,
      memoryMb: 512,
      diskMb: null,
      backend: null,
      workerId: null,
      labels: { team: "core", "app.kubernetes.io/name": "x" },
      tools: ["node@20", "python@3.12"],
      network: { egress: { allow: ["example.com"] } },
      metadata: {},
      readyAt: null,
      deletedAt: null,
    });
  });

  it("keeps env values sealed at rest, names in clear, and opens them only with its key", async () => {
    const secret = "s3cr3t-env-value-\u00e9";
    const vm = await vms.create({ name: "sealed-env", env: { API_TOKEN: secret, EMPTY: "" } });
    const raw = await sql<{ env: string }>`select env::text as env from vms where id = ${vm.id}`
      .execute(handle.db)
      .then((r) => r.rows[0]!.env);
    expect(raw).toContain("API_TOKEN");
    expect(raw).not.toContain("s3cr3t");
    expect(Object.keys(vm.env).sort()).toEqual(["API_TOKEN", "EMPTY"]);
    expect(vms.openEnv(vm)).toEqual({ API_TOKEN: secret, EMPTY: "" });
    // Another process with another key: a clear error naming the variable, not a wrong value.
    const elsewhere = new VmRepository(handle.db, new TokenSealer("another-key".repeat(4)));
    expect(() => elsewhere.openEnv(vm)).toThrow(
      /env (API_TOKEN|EMPTY) of sandbox .* does not open/,
    );
    // A value moved to another name does not open there.
    const swapped = { id: vm.id, env: { OTHER: vm.env.API_TOKEN! } };
    expect(() => vms.openEnv(swapped)).toThrow(/env OTHER/);
  });

  it("updates status optimistically", async () => {
    const vm = await vms.create({ name: "optimistic" });
    // Wrong expectation: nothing changes.
    expect(await vms.updateStatus(vm.id, "running", "stopping")).toBeUndefined();
    expect((await vms.get(vm.id))?.status).toBe("pending");

    const creating = await vms.updateStatus(vm.id, ["pending", "failed"], "creating");
    expect(creating?.status).toBe("creating");
    const running = await vms.updateStatus(vm.id, "creating", "running");
    expect(running?.readyAt).toBeInstanceOf(Date);
    // Two racing transitions from the same state: exactly one wins.
    const results = await Promise.all([
      vms.updateStatus(vm.id, "running", "stopping"),
      vms.updateStatus(vm.id, "running", "deleting"),
    ]);
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    const failed = await vms.updateStatus(vm.id, ["stopping", "deleting"], "failed", {
      error: "disk full",
    });
    expect(failed).toMatchObject({ status: "failed", error: "disk full" });
    expect(failed?.readyAt).toEqual(running?.readyAt);
    expect(await vms.updateStatus(vm.id, [], "running")).toBeUndefined();
    expect(await vms.updateStatus("not-a-uuid", "failed", "running")).toBeUndefined();
  });

  it("assigns workers, lists by worker and marks them lost", async () => {
    const a = await vms.create({ name: "on-w1-a" });
    const b = await vms.create({ name: "on-w1-b" });
    const gone = await vms.create({ name: "on-w1-deleted" });
    const other = await vms.create({ name: "on-w2" });
    expect(await vms.assignWorker(a.id, "w1", "docker")).toMatchObject({
      workerId: "w1",
      backend: "docker",
    });
    await vms.assignWorker(b.id, "w1");
    await vms.assignWorker(gone.id, "w1");
    await vms.assignWorker(other.id, "w2");
    await vms.updateStatus(b.id, "pending", "running");
    await vms.updateStatus(gone.id, "pending", "deleted");

    expect((await vms.listByWorker("w1")).map((v) => v.id).sort()).toEqual([a.id, b.id].sort());
    const lost = await vms.markLostForWorker("w1");
    expect(lost.sort()).toEqual([a.id, b.id].sort());
    expect((await vms.get(a.id))?.status).toBe("lost");
    expect((await vms.get(gone.id))?.status).toBe("deleted");
    expect((await vms.get(other.id))?.status).toBe("pending");
    expect(await vms.markLostForWorker("w1")).toEqual([]);
  });

  it("filters by status, worker and labels, hiding deleted ones by default", async () => {
    const tenant = `filters-${engine}`;
    const x = await vms.create({ tenant, name: "x", labels: { env: "dev", team: "a" } });
    await vms.create({ tenant, name: "y", labels: { env: "prod" } });
    const z = await vms.create({ tenant, name: "z", labels: { env: "dev" } });
    await vms.updateStatus(z.id, "pending", "deleted");
    await vms.assignWorker(x.id, "w2");

    const names = (page: { items: VmRow[] }) => page.items.map((v) => v.name).sort();
    expect(names(await vms.list({ tenant }))).toEqual(["x", "y"]);
    expect(names(await vms.list({ tenant, includeDeleted: true }))).toEqual(["x", "y", "z"]);
    expect(names(await vms.list({ tenant, status: "deleted" }))).toEqual(["z"]);
    expect(names(await vms.list({ tenant, labels: { env: "dev" } }))).toEqual(["x"]);
    expect(names(await vms.list({ tenant, labels: { env: "dev", team: "a" } }))).toEqual(["x"]);
    expect(names(await vms.list({ tenant, labels: { env: "dev", team: "b" } }))).toEqual([]);
    expect(names(await vms.list({ tenant, workerId: "w2" }))).toEqual(["x"]);
  });

  it("walks 120 rows in pages of 50 with no duplicates or gaps", async () => {
    const tenant = `paging-${engine}`;
    // Many rows share a millisecond, so the id tie-breaker is exercised too.
    const base = Date.now();
    const inserted = await handle.db
      .insertInto("vms")
      .values(
        Array.from({ length: 120 }, (_, i) => ({
          tenant,
          name: `page-${i}`,
          createdAt: new Date(base + Math.floor(i / 7)),
        })),
      )
      .returning("id")
      .execute();

    const seen: VmRow[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const page = await vms.list({ tenant, limit: 50, cursor });
      sizes.push(page.items.length);
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);

    expect(sizes).toEqual([50, 50, 20]);
    expect(new Set(seen.map((v) => v.id)).size).toBe(120);
    expect(seen.map((v) => v.id).sort()).toEqual(inserted.map((r) => r.id).sort());
    // Strictly descending by (createdAt, id).
    for (let i = 1; i < seen.length; i++) {
      const prev = seen[i - 1] as VmRow;
      const cur = seen[i] as VmRow;
      const order =
        prev.createdAt.getTime() - cur.createdAt.getTime() || (prev.id > cur.id ? 1 : -1);
      expect(order).toBeGreaterThan(0);
    }
  });

  it("rejects garbage cursors with InvalidCursorError", async () => {
    const b64 = (s: string) => Buffer.from(s).toString("base64url");
    const garbage = [
      "not a cursor!",
      b64("not json"),
      b64("[]"),
      b64(JSON.stringify({ t: "yesterday", id: "00000000-0000-0000-0000-000000000000" })),
      b64(JSON.stringify({ t: new Date().toISOString(), id: "1; drop table vms" })),
      b64(JSON.stringify({ t: 5, id: "00000000-0000-0000-0000-000000000000" })),
    ];
    for (const cursor of garbage) {
      await expect(vms.list({ cursor })).rejects.toBeInstanceOf(InvalidCursorError);
    }
    // A well-formed cursor pointing nowhere is just an empty page.
    const far = encodeCursor({
      createdAt: new Date(0),
      id: "00000000-0000-0000-0000-000000000000",
    });
    expect(await vms.list({ cursor: far })).toEqual({ items: [], nextCursor: null });
  });
});
