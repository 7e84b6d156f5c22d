import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useTestDatabase } from "@aetherium/testing";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "./database.js";
import { Migrator } from "./migrator.js";

const pgDb = useTestDatabase();

describe.each([["postgres"], ["pglite"]] as const)("openDatabase on %s", (engine) => {
  let handle: DatabaseHandle;

  beforeAll(async () => {
    handle = await openDatabase(
      engine === "postgres" ? { url: pgDb.current.url } : { pglite: "memory://" },
    );
    await new Migrator(handle.db).up();
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("reports its engine", () => {
    expect(handle.engine).toBe(engine);
  });

  it("returns the same JavaScript values on both engines", async () => {
    const { rows } = await sql<Record<string, unknown>>`
      select
        now() as tstz,
        timestamp '2024-01-02 03:04:05.678' as ts,
        date '2024-01-02' as d,
        count(*) as n,
        9007199254740993::int8 as huge,
        sum(x) as total,
        avg(x) as mean,
        '\\x0102ff'::bytea as bytes,
        '{"snake_key": {"inner_key": [1, "two"]}}'::jsonb as doc,
        '10.1.2.3'::inet as ip
      from (values (1), (2)) as v(x)`.execute(handle.db);
    const row = rows[0] ?? {};
    expect(row.tstz).toBeInstanceOf(Date);
    // timestamp without time zone is UTC, not the process's local time.
    expect(row.ts).toEqual(new Date("2024-01-02T03:04:05.678Z"));
    expect(row.d).toBe("2024-01-02");
    expect(row.n).toBe(2);
    expect(row.huge).toBe(9007199254740993n);
    expect(row.total).toBe(3);
    expect(row.mean).toBe(1.5);
    expect(Buffer.isBuffer(row.bytes)).toBe(true);
    expect([...(row.bytes as Buffer)]).toEqual([1, 2, 255]);
    // Column names are camelCased by the plugin, jsonb keys are left alone.
    expect(row.doc).toEqual({ snake_key: { inner_key: [1, "two"] } });
    expect(row.ip).toBe("10.1.2.3");
  });

  it("round-trips timestamps exactly (millisecond columns)", async () => {
    const at = new Date("2030-05-06T07:08:09.123Z");
    const vm = await handle.db
      .insertInto("vms")
      .values({ name: `ts-${engine}`, expiresAt: at })
      .returningAll()
      .executeTakeFirstOrThrow();
    expect(vm.expiresAt).toEqual(at);
    expect(vm.createdAt).toBeInstanceOf(Date);
  });

  it("rolls a failed transaction back and serialises concurrent ones", async () => {
    await expect(
      handle.db.transaction().execute(async (trx) => {
        await trx
          .insertInto("workers")
          .values({ id: "w-rollback", hostname: "h", address: "a" })
          .execute();
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(
      await handle.db.selectFrom("workers").where("id", "=", "w-rollback").selectAll().execute(),
    ).toEqual([]);

    await handle.db
      .insertInto("workers")
      .values({ id: "w-counter", hostname: "h", address: "a" })
      .execute();
    // Read-modify-write in 20 concurrent transactions: on PGlite this is only correct if the
    // dialect's mutex keeps each transaction's statements together; on PostgreSQL the row lock
    // taken by FOR UPDATE does it.
    await Promise.all(
      Array.from({ length: 20 }, () =>
        handle.db.transaction().execute(async (trx) => {
          const w = await trx
            .selectFrom("workers")
            .select("usedVms")
            .where("id", "=", "w-counter")
            .forUpdate()
            .executeTakeFirstOrThrow();
          await new Promise((resolve) => setTimeout(resolve, 1));
          await trx
            .updateTable("workers")
            .set({ usedVms: w.usedVms + 1 })
            .where("id", "=", "w-counter")
            .execute();
        }),
      ),
    );
    const w = await handle.db
      .selectFrom("workers")
      .select("usedVms")
      .where("id", "=", "w-counter")
      .executeTakeFirstOrThrow();
    expect(w.usedVms).toBe(20);
  });
});

describe("PGlite on disk", () => {
  it("keeps its data across close and reopen", async () => {
    const dir = await mkdtemp(join(tmpdir(), "aet-pglite-"));
    try {
      const first = await openDatabase({ pglite: join(dir, "data") });
      await new Migrator(first.db).up();
      const vm = await first.db
        .insertInto("vms")
        .values({ name: "persisted", labels: JSON.stringify({ keep: "me" }) })
        .returningAll()
        .executeTakeFirstOrThrow();
      await first.close();
      await first.close(); // idempotent

      const second = await openDatabase({ pglite: join(dir, "data") });
      try {
        expect((await new Migrator(second.db).status()).pending).toEqual([]);
        const again = await second.db
          .selectFrom("vms")
          .selectAll()
          .where("id", "=", vm.id)
          .executeTakeFirst();
        expect(again).toEqual(vm);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // Two initdb-sized PGlite opens on disk: tens of seconds on a loaded 2-core machine.
  }, 120_000);
});
