import { readdir, readFile } from "node:fs/promises";
import { sql, type Kysely } from "kysely";
import type { Database } from "./database.js";

/**
 * Where the SQL files live. Resolved from this module, two levels up: the same relative path
 * reaches `services/core/migrations` from `src/storage/` (tests, tsx) and from `dist/storage/`.
 */
export const DEFAULT_MIGRATIONS_DIR = new URL("../../migrations/", import.meta.url);

/**
 * Key of the session-level advisory lock that serialises migrators: two processes that start at
 * once must not both apply the same file. Any constant works as long as nothing else uses it.
 */
export const MIGRATION_LOCK_KEY = 0x4145_5448_4d47; // "AETHMG"

const FILE_PATTERN = /^(\d{4,})_([a-z0-9_]+)\.(up|down)\.sql$/;

/** One numbered migration found on disk (`0001_initial.up.sql` + `0001_initial.down.sql`). */
export interface Migration {
  /** The number in the file name. */
  readonly version: number;
  /** The name after the number, `initial` for `0001_initial`. */
  readonly name: string;
  /** The `.up.sql` file. */
  readonly upFile: URL;
  /** The `.down.sql` file, when there is one. */
  readonly downFile: URL | undefined;
}

/** A migration recorded in `schema_migrations`. */
export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
  readonly appliedAt: Date;
}

/** What {@link Migrator.status} reports. */
export interface MigrationStatus {
  /** Recorded as applied, oldest first (including any whose files have since disappeared). */
  readonly applied: readonly AppliedMigration[];
  /** Found on disk but not applied yet, in the order `up()` would apply them. */
  readonly pending: readonly Migration[];
}

/** A migration file failed; the transaction it ran in was rolled back. */
export class MigrationError extends Error {
  override readonly name = "MigrationError";

  constructor(
    message: string,
    /** The version that failed. */
    readonly version: number,
    /** Which way it was going. */
    readonly direction: "up" | "down",
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Options of {@link Migrator}. */
export interface MigratorOptions {
  /** Folder with the `NNNN_name.up.sql` / `.down.sql` files (default {@link DEFAULT_MIGRATIONS_DIR}). */
  readonly directory?: URL;
  /** Advisory lock key (default {@link MIGRATION_LOCK_KEY}). */
  readonly lockKey?: number;
}

type Conn = Kysely<Database>;

/**
 * Applies numbered SQL migrations, each in its own transaction, and records them in
 * `schema_migrations (version, name, applied_at)`. Runs unchanged on PostgreSQL (`pg`) and PGlite.
 *
 * Everything happens on one connection that holds `pg_advisory_lock` for the duration, so
 * concurrent migrators (several gateways starting together) take turns and each file runs once.
 * Migration files must not contain their own BEGIN/COMMIT, nor statements that refuse to run in a
 * transaction (`CREATE INDEX CONCURRENTLY`).
 */
export class Migrator {
  readonly #db: Kysely<Database>;
  readonly #directory: URL;
  readonly #lockKey: number;

  constructor(db: Kysely<Database>, options: MigratorOptions = {}) {
    this.#db = db;
    const dir = options.directory ?? DEFAULT_MIGRATIONS_DIR;
    // A folder URL without the trailing slash would resolve file names against its parent.
    this.#directory = dir.href.endsWith("/") ? dir : new URL(`${dir.href}/`);
    this.#lockKey = options.lockKey ?? MIGRATION_LOCK_KEY;
  }

  /** Lists the migrations on disk, by version. Throws on malformed or duplicated files. */
  async migrations(): Promise<Migration[]> {
    const byVersion = new Map<number, { name: string; up?: URL; down?: URL }>();
    for (const file of await readdir(this.#directory)) {
      if (!file.endsWith(".sql")) continue;
      const match = FILE_PATTERN.exec(file);
      if (!match) throw new Error(`migration file name not understood: ${file}`);
      const [, digits = "", name = "", direction] = match;
      const version = Number(digits);
      const entry = byVersion.get(version) ?? { name };
      if (entry.name !== name) {
        throw new Error(`two migrations numbered ${digits}: ${entry.name} and ${name}`);
      }
      entry[direction === "up" ? "up" : "down"] = new URL(file, this.#directory);
      byVersion.set(version, entry);
    }
    return [...byVersion.entries()]
      .sort(([a], [b]) => a - b)
      .map(([version, { name, up, down }]) => {
        if (!up) throw new Error(`migration ${version}_${name} has no .up.sql file`);
        return { version, name, upFile: up, downFile: down };
      });
  }

  /** Applied and pending migrations. Creates nothing, so it is safe on an empty database. */
  async status(): Promise<MigrationStatus> {
    const [migrations, applied] = await Promise.all([
      this.migrations(),
      this.#db.connection().execute(async (conn) => {
        const { rows } = await sql<{
          exists: boolean;
        }>`select to_regclass('schema_migrations') is not null as "exists"`.execute(conn);
        return rows[0]?.exists ? readApplied(conn) : [];
      }),
    ]);
    const done = new Set(applied.map((m) => m.version));
    return { applied, pending: migrations.filter((m) => !done.has(m.version)) };
  }

  /** Applies every pending migration in version order; returns those it applied. */
  async up(): Promise<Migration[]> {
    const migrations = await this.migrations();
    return this.#locked(async (conn) => {
      // Re-read under the lock: another process may have migrated while we waited for it.
      const done = new Set((await readApplied(conn)).map((m) => m.version));
      const applied: Migration[] = [];
      for (const migration of migrations) {
        if (done.has(migration.version)) continue;
        const text = await readFile(migration.upFile, "utf8");
        await inTransaction(conn, migration, "up", async () => {
          await sql.raw(text).execute(conn);
          await sql`insert into schema_migrations (version, name) values (${migration.version}, ${migration.name})`.execute(
            conn,
          );
        });
        applied.push(migration);
      }
      return applied;
    });
  }

  /**
   * Reverts the last `steps` applied migrations, newest first (`Infinity` reverts them all);
   * returns those it reverted. Throws before touching anything if one of them has no down file.
   */
  async down(steps = 1): Promise<Migration[]> {
    if (!(steps >= 0)) throw new RangeError(`steps must be >= 0, got ${steps}`);
    const migrations = new Map((await this.migrations()).map((m) => [m.version, m]));
    return this.#locked(async (conn) => {
      const targets = (await readApplied(conn)).reverse().slice(0, steps);
      const plan = targets.map((applied) => {
        const migration = migrations.get(applied.version);
        if (!migration?.downFile) {
          throw new MigrationError(
            `cannot revert ${applied.version}_${applied.name}: no .down.sql file`,
            applied.version,
            "down",
          );
        }
        return { migration, downFile: migration.downFile };
      });
      const reverted: Migration[] = [];
      for (const { migration, downFile } of plan) {
        const text = await readFile(downFile, "utf8");
        await inTransaction(conn, migration, "down", async () => {
          await sql.raw(text).execute(conn);
          await sql`delete from schema_migrations where version = ${migration.version}`.execute(
            conn,
          );
        });
        reverted.push(migration);
      }
      return reverted;
    });
  }

  /** Runs `fn` on one connection holding the migration lock, with `schema_migrations` present. */
  async #locked<T>(fn: (conn: Conn) => Promise<T>): Promise<T> {
    return this.#db.connection().execute(async (conn) => {
      await sql`select pg_advisory_lock(${this.#lockKey})`.execute(conn);
      try {
        // Created under the lock: concurrent CREATE TABLE IF NOT EXISTS can still collide.
        await sql
          .raw(
            `create table if not exists schema_migrations (
               version bigint primary key,
               name text not null,
               applied_at timestamptz(3) not null default now()
             )`,
          )
          .execute(conn);
        return await fn(conn);
      } finally {
        await sql`select pg_advisory_unlock(${this.#lockKey})`.execute(conn);
      }
    });
  }
}

async function readApplied(conn: Conn): Promise<AppliedMigration[]> {
  // Explicit camelCase aliases read the same with or without Kysely's CamelCasePlugin.
  const { rows } = await sql<{
    version: number | string;
    name: string;
    appliedAt: Date;
  }>`select version, name, applied_at as "appliedAt" from schema_migrations order by version`.execute(
    conn,
  );
  return rows.map((r) => ({ version: Number(r.version), name: r.name, appliedAt: r.appliedAt }));
}

async function inTransaction(
  conn: Conn,
  migration: Migration,
  direction: "up" | "down",
  fn: () => Promise<void>,
): Promise<void> {
  await sql`begin`.execute(conn);
  try {
    await fn();
    await sql`commit`.execute(conn);
  } catch (error) {
    await sql`rollback`.execute(conn).catch(() => undefined);
    const reason = error instanceof Error ? error.message : String(error);
    throw new MigrationError(
      `migration ${migration.version}_${migration.name} (${direction}) failed: ${reason}`,
      migration.version,
      direction,
      { cause: error },
    );
  }
}
