import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createTestDatabase, useTestDatabase } from "@aetherium/testing";
import { sql, type Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database, type DatabaseHandle } from "./database.js";
import { MigrationError, Migrator } from "./migrator.js";

const pgDb = useTestDatabase();

const ALL_TABLES = [
  "api_keys",
  "audit_log",
  "environments",
  "executions",
  "integration_deliveries",
  "prompt_tasks",
  "schema_migrations",
  "session_messages",
  "tasks",
  "vm_network_leases",
  "vms",
  "worker_metrics",
  "workers",
  "workspace_prep_steps",
  "workspace_secrets",
  "workspace_sessions",
  "workspaces",
];

/** Everything a migration can leave behind: columns, indexes, constraints, triggers, functions. */
async function schemaSnapshot(db: Kysely<Database>) {
  const columns = await sql`
    select table_name, column_name, data_type, is_nullable, column_default, ordinal_position
    from information_schema.columns where table_schema = current_schema()
    order by table_name, column_name`.execute(db);
  const indexes = await sql`
    select tablename, indexname, indexdef from pg_indexes where schemaname = current_schema()
    order by indexname`.execute(db);
  const constraints = await sql`
    select conrelid::regclass::text as tbl, conname, pg_get_constraintdef(oid) as def
    from pg_constraint where connamespace = current_schema()::regnamespace
    order by conname`.execute(db);
  const triggers = await sql`
    select tgrelid::regclass::text as tbl, tgname from pg_trigger where not tgisinternal
    order by tgname`.execute(db);
  const functions = await sql`
    select proname from pg_proc where pronamespace = current_schema()::regnamespace
    order by proname`.execute(db);
  return {
    columns: columns.rows,
    indexes: indexes.rows,
    constraints: constraints.rows,
    triggers: triggers.rows,
    functions: functions.rows,
  };
}

async function tableNames(db: Kysely<Database>): Promise<string[]> {
  const { rows } = await sql<{ tableName: string }>`
    select table_name from information_schema.tables
    where table_schema = current_schema() order by table_name`.execute(db);
  return rows.map((r) => r.tableName);
}

describe.each([["postgres"], ["pglite"]] as const)("Migrator on %s", (engine) => {
  let handle: DatabaseHandle;

  beforeAll(async () => {
    handle = await openDatabase(
      engine === "postgres" ? { url: pgDb.current.url } : { pglite: "memory://" },
    );
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("goes up, all the way down and up again to the same schema", async () => {
    const migrator = new Migrator(handle.db);
    const files = await migrator.migrations();
    expect(files.map((m) => m.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

    const fresh = await migrator.status();
    expect(fresh.applied).toEqual([]);
    expect(fresh.pending.map((m) => m.name)).toEqual([
      "initial",
      "workspaces",
      "auth_audit",
      "worker_internal_token",
      "seal_worker_tokens",
      "vm_pending_reason",
      "execution_pty",
      "vm_network_leases",
      "environment_spec",
      "integration_deliveries",
      "vm_pause",
    ]);

    const applied = await migrator.up();
    expect(applied.map((m) => m.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(await tableNames(handle.db)).toEqual(ALL_TABLES);
    const first = await schemaSnapshot(handle.db);

    const after = await migrator.status();
    expect(after.pending).toEqual([]);
    expect(after.applied.map((m) => [m.version, m.name])).toEqual([
      [1, "initial"],
      [2, "workspaces"],
      [3, "auth_audit"],
      [4, "worker_internal_token"],
      [5, "seal_worker_tokens"],
      [6, "vm_pending_reason"],
      [7, "execution_pty"],
      [8, "vm_network_leases"],
      [9, "environment_spec"],
      [10, "integration_deliveries"],
      [11, "vm_pause"],
    ]);
    expect(after.applied[0]?.appliedAt).toBeInstanceOf(Date);
    expect(await migrator.up()).toEqual([]);

    expect((await migrator.down()).map((m) => m.version)).toEqual([11]);
    expect((await migrator.down()).map((m) => m.version)).toEqual([10]);
    expect(await tableNames(handle.db)).not.toContain("integration_deliveries");
    const one = await migrator.down();
    expect(one.map((m) => m.version)).toEqual([9]);
    expect((await migrator.down()).map((m) => m.version)).toEqual([8]);
    expect(await tableNames(handle.db)).toContain("ip_allocations");
    expect((await migrator.down()).map((m) => m.version)).toEqual([7]);
    expect((await migrator.status()).pending.map((m) => m.version)).toEqual([7, 8, 9, 10, 11]);
    expect((await migrator.down(2)).map((m) => m.version)).toEqual([6, 5]);
    const two = await migrator.down(2);
    expect(two.map((m) => m.version)).toEqual([4, 3]);
    expect((await migrator.status()).pending.map((m) => m.version)).toEqual([
      3, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
    expect(await tableNames(handle.db)).not.toContain("api_keys");

    const rest = await migrator.down(Infinity);
    expect(rest.map((m) => m.version)).toEqual([2, 1]);
    // Only the bookkeeping table survives; the trigger function went with 0001.
    expect(await tableNames(handle.db)).toEqual(["schema_migrations"]);
    const empty = await schemaSnapshot(handle.db);
    expect(empty.functions).toEqual([]);
    expect(empty.triggers).toEqual([]);
    expect((await migrator.status()).applied).toEqual([]);

    expect((await migrator.up()).length).toBe(11);
    expect(await schemaSnapshot(handle.db)).toEqual(first);
  });

  it("rolls back a failing migration and keeps the ones before it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "aet-migrations-"));
    // Its own database, so the real migrations' bookkeeping is not in the way.
    const target = engine === "postgres" ? await createTestDatabase() : undefined;
    const fresh = await openDatabase(target ? { url: target.url } : { pglite: "memory://" });
    try {
      await writeFile(join(dir, "0001_good.up.sql"), "CREATE TABLE zz_good (id int);");
      await writeFile(join(dir, "0001_good.down.sql"), "DROP TABLE zz_good;");
      await writeFile(
        join(dir, "0002_bad.up.sql"),
        "CREATE TABLE zz_bad (id int);\nSELECT no_such_function();",
      );
      const migrator = new Migrator(fresh.db, { directory: pathToFileURL(dir) });
      const error = await migrator.up().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as MigrationError).version).toBe(2);
      expect(await tableNames(fresh.db)).toEqual(["schema_migrations", "zz_good"]);
      expect((await migrator.status()).pending.map((m) => m.version)).toEqual([2]);
      await expect(migrator.down(1)).resolves.toHaveLength(1);
      expect(await tableNames(fresh.db)).toEqual(["schema_migrations"]);
    } finally {
      await fresh.close();
      await target?.drop();
      await rm(dir, { recursive: true, force: true });
    }
    // A fresh PGlite opens slowly on a loaded 2-core machine (it took 27 s once).
  }, 120_000);
});

describe("Migrator concurrency on postgres", () => {
  it("two migrators racing apply each migration exactly once", async () => {
    const target = await createTestDatabase();
    const a = await openDatabase({ url: target.url });
    const b = await openDatabase({ url: target.url });
    try {
      const [ranA, ranB] = await Promise.all([new Migrator(a.db).up(), new Migrator(b.db).up()]);
      const versions = [...ranA, ...ranB].map((m) => m.version).sort((x, y) => x - y);
      expect(versions).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      // One of them did all the work; the other found nothing left once it got the lock.
      expect([ranA.length, ranB.length].sort((x, y) => x - y)).toEqual([0, 11]);
      const { rows } = await sql<{
        version: number;
      }>`select version from schema_migrations order by version`.execute(a.db);
      expect(rows.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    } finally {
      await a.close();
      await b.close();
      await target.drop();
    }
  });
});
