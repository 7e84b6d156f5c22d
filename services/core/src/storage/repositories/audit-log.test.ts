import { useTestDatabase } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "../database.js";
import { Migrator } from "../migrator.js";
import { ApiKeyRepository } from "./api-keys.js";
import { AuditLogRepository } from "./audit-log.js";

const pgDb = useTestDatabase();

describe.each([["postgres"], ["pglite"]] as const)("AuditLogRepository on %s", (engine) => {
  let handle: DatabaseHandle;
  let audit: AuditLogRepository;

  beforeAll(async () => {
    handle = await openDatabase(
      engine === "postgres" ? { url: pgDb.current.url } : { pglite: "memory://" },
    );
    await new Migrator(handle.db).up();
    audit = new AuditLogRepository(handle.db);
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("appends entries and lists them newest first with filters and pages", async () => {
    const key = await new ApiKeyRepository(handle.db).create({
      name: "admin",
      keyHash: "h-admin",
      prefix: "aet_adm",
      scopes: ["admin"],
    });
    for (let i = 0; i < 5; i++) {
      await audit.append({
        action: i % 2 ? "vm.delete" : "vm.create",
        actorKeyId: key.id,
        resourceType: "vm",
        resourceId: `vm-${i}`,
        requestId: `req-${i}`,
        statusCode: 202,
        details: { index: i, some_key: true },
      });
    }
    const entry = await audit.append({ action: "api_key.create" });
    expect(entry).toMatchObject({ actorKeyId: null, details: {}, tenant: "default" });
    expect(entry.at).toBeInstanceOf(Date);

    const mine = await audit.list({ actorKeyId: key.id });
    // Entries appended within one millisecond tie on `at`; the id breaks the tie, so compare
    // membership here and the ordering rule below.
    expect(mine.items.map((e) => e.resourceId).sort()).toEqual([
      "vm-0",
      "vm-1",
      "vm-2",
      "vm-3",
      "vm-4",
    ]);
    for (let i = 1; i < mine.items.length; i++) {
      const [prev, cur] = [mine.items[i - 1], mine.items[i]];
      const key = (e: typeof prev) => `${e?.at.toISOString()}|${e?.id}`;
      expect(key(prev) > key(cur)).toBe(true);
    }
    expect(mine.items.find((e) => e.resourceId === "vm-4")?.details).toEqual({
      index: 4,
      some_key: true,
    });
    expect((await audit.list({ action: "vm.delete" })).items).toHaveLength(2);
    expect((await audit.list({ resourceType: "vm", resourceId: "vm-3" })).items).toHaveLength(1);

    const first = await audit.list({ limit: 4 });
    const second = await audit.list({ limit: 4, cursor: first.nextCursor });
    expect(first.items).toHaveLength(4);
    expect(second.items).toHaveLength(2);
    expect(second.nextCursor).toBeNull();

    // Deleting the key keeps the trail.
    await handle.db.deleteFrom("apiKeys").where("id", "=", key.id).execute();
    expect(
      (await audit.list({ resourceType: "vm" })).items.every((e) => e.actorKeyId === null),
    ).toBe(true);
  });
});
