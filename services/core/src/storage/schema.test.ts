import { useTestDatabase } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "./database.js";
import { isForeignKeyViolation, isUniqueViolation } from "./errors.js";
import { Migrator } from "./migrator.js";
import { VmRepository } from "./repositories/vms.js";

const pgDb = useTestDatabase();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each([["postgres"], ["pglite"]] as const)("schema repairs on %s", (engine) => {
  let handle: DatabaseHandle;
  let vms: VmRepository;

  beforeAll(async () => {
    handle = await openDatabase(
      engine === "postgres" ? { url: pgDb.current.url } : { pglite: "memory://" },
    );
    await new Migrator(handle.db).up();
    vms = new VmRepository(handle.db);
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("keeps a workspace when its vm row is deleted (vm_id becomes null)", async () => {
    const vm = await vms.create({ name: "ws-vm" });
    const ws = await handle.db
      .insertInto("workspaces")
      .values({ name: "keep-me", vmId: vm.id })
      .returningAll()
      .executeTakeFirstOrThrow();
    const secret = await handle.db
      .insertInto("workspaceSecrets")
      .values({
        workspaceId: ws.id,
        name: "TOKEN",
        encryptedValue: Buffer.from([1, 2, 3]),
        nonce: Buffer.from([4, 5, 6]),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    expect(Buffer.isBuffer(secret.encryptedValue)).toBe(true);
    await handle.db.deleteFrom("vms").where("id", "=", vm.id).execute();
    const after = await handle.db
      .selectFrom("workspaces")
      .selectAll()
      .where("id", "=", ws.id)
      .executeTakeFirst();
    expect(after).toBeDefined();
    expect(after?.vmId).toBeNull();
    const secrets = await handle.db
      .selectFrom("workspaceSecrets")
      .select("name")
      .where("workspaceId", "=", ws.id)
      .execute();
    expect(secrets).toEqual([{ name: "TOKEN" }]);
  });

  it("keeps executions and tasks of a deleted vm", async () => {
    const vm = await vms.create({ name: "history-vm" });
    const exec = await handle.db
      .insertInto("executions")
      .values({ vmId: vm.id, command: "true" })
      .returningAll()
      .executeTakeFirstOrThrow();
    await handle.db.deleteFrom("vms").where("id", "=", vm.id).execute();
    const row = await handle.db
      .selectFrom("executions")
      .selectAll()
      .where("id", "=", exec.id)
      .executeTakeFirstOrThrow();
    expect(row.vmId).toBeNull();
  });

  it("makes vm names unique per tenant among live vms", async () => {
    const first = await vms.create({ name: "dup" });
    const error = await vms.create({ name: "dup" }).catch((e: unknown) => e);
    expect(isUniqueViolation(error, "vms_tenant_name_live_key")).toBe(true);
    // Another tenant may use the name.
    await expect(vms.create({ name: "dup", tenant: "other" })).resolves.toMatchObject({
      tenant: "other",
    });
    // Once the first is deleted, the name is free again in its tenant.
    const deleted = await vms.updateStatus(first.id, "pending", "deleted");
    expect(deleted?.deletedAt).toBeInstanceOf(Date);
    const second = await vms.create({ name: "dup" });
    expect(second.id).not.toBe(first.id);
    expect(await vms.getByName("dup")).toMatchObject({ id: second.id });
  });

  it("makes workspace and environment names unique per tenant", async () => {
    await handle.db.insertInto("environments").values({ name: "env" }).execute();
    const error = await handle.db
      .insertInto("environments")
      .values({ name: "env" })
      .execute()
      .catch((e: unknown) => e);
    expect(isUniqueViolation(error, "environments_tenant_name_key")).toBe(true);
    await handle.db.insertInto("environments").values({ name: "env", tenant: "t2" }).execute();
  });

  it("keeps secret names unique per workspace and per tenant for global ones", async () => {
    const ws = await handle.db
      .insertInto("workspaces")
      .values({ name: "secrets-ws" })
      .returning("id")
      .executeTakeFirstOrThrow();
    const value = { encryptedValue: Buffer.from("x"), nonce: Buffer.from("n") };
    await handle.db
      .insertInto("workspaceSecrets")
      .values({ workspaceId: ws.id, name: "K", ...value })
      .execute();
    await expect(
      handle.db
        .insertInto("workspaceSecrets")
        .values({ workspaceId: ws.id, name: "K", ...value })
        .execute(),
    ).rejects.toSatisfy((e) => isUniqueViolation(e, "workspace_secrets_workspace_name_key"));
    await handle.db
      .insertInto("workspaceSecrets")
      .values({ workspaceId: null, scope: "global", name: "K", ...value })
      .execute();
    await expect(
      handle.db
        .insertInto("workspaceSecrets")
        .values({ workspaceId: null, scope: "global", name: "K", ...value })
        .execute(),
    ).rejects.toSatisfy((e) => isUniqueViolation(e, "workspace_secrets_global_name_key"));
  });

  it("sets updated_at on update", async () => {
    const vm = await vms.create({ name: "touch-me" });
    expect(vm.updatedAt.getTime()).toBe(vm.createdAt.getTime());
    await sleep(15);
    const updated = await vms.updateStatus(vm.id, "pending", "creating");
    expect(updated?.updatedAt.getTime()).toBeGreaterThan(vm.updatedAt.getTime());
    expect(updated?.createdAt).toEqual(vm.createdAt);
  });

  it("rejects references to missing rows and unknown statuses", async () => {
    await expect(
      handle.db.insertInto("vms").values({ name: "orphan", workerId: "no-such-worker" }).execute(),
    ).rejects.toSatisfy((e) => isForeignKeyViolation(e));
    await expect(
      handle.db
        .insertInto("tasks")
        // @ts-expect-error -- the database must refuse what the types already forbid
        .values({ type: "x", status: "bogus" })
        .execute(),
    ).rejects.toThrow(/check constraint/);
  });
});
