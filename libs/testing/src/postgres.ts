import { randomBytes } from "node:crypto";
import pg from "pg";

/** Where the fixtures find the machine's PostgreSQL: an admin URL whose role may create databases. */
export const TEST_PG_ADMIN_URL =
  process.env.AETHERIUM_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** Databases made by these fixtures carry this prefix, so leftovers of a crashed run can be swept. */
export const TEST_DB_PREFIX = "aet_test_";

// A run killed mid-test cannot drop its database; anything this old is certainly abandoned.
const STALE_AFTER_SEC = 2 * 60 * 60;

/** A fresh, empty PostgreSQL database that belongs to one test file. */
export interface TestDatabase {
  /** The database name (`aet_test_<epoch>_<random>`). */
  readonly name: string;
  /** A connection URL for the new database. */
  readonly url: string;
  /** Drops the database, terminating connections that are still open. Safe to call twice. */
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function dropDatabase(client: pg.Client, name: string): Promise<void> {
  // WITH (FORCE) (PostgreSQL ≥ 13) ends stray connections a failed test left open.
  await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/**
 * Creates a new database on the local server for one test file. Names are random, so files that
 * run in parallel never share state, and nothing from an earlier run is visible.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const now = Math.floor(Date.now() / 1000);
  const name = `${TEST_DB_PREFIX}${now}_${randomBytes(5).toString("hex")}`;
  await withAdmin(async (client) => {
    await sweepStaleDatabases(client, now);
    await client.query(`CREATE DATABASE "${name}"`);
  });
  let dropped = false;
  return {
    name,
    url: withDatabase(TEST_PG_ADMIN_URL, name),
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdmin((client) => dropDatabase(client, name));
    },
  };
}

async function sweepStaleDatabases(client: pg.Client, nowSec: number): Promise<void> {
  const { rows } = await client.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname LIKE $1",
    [`${TEST_DB_PREFIX}%`],
  );
  for (const { datname } of rows) {
    const born = Number(datname.slice(TEST_DB_PREFIX.length).split("_")[0]);
    if (Number.isFinite(born) && nowSec - born > STALE_AFTER_SEC) {
      await dropDatabase(client, datname).catch(() => undefined);
    }
  }
}

/** Lists the fixture databases that currently exist (used to prove cleanup happened). */
export async function listTestDatabases(): Promise<string[]> {
  return withAdmin(async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname",
      [`${TEST_DB_PREFIX}%`],
    );
    return rows.map((r) => r.datname);
  });
}
