import { sql } from "kysely";
import type { DatabaseHandle } from "./database.js";

/** Runs `fn` only while this process holds a lock; undefined when another process holds it. */
export type Exclusive = <T>(fn: () => Promise<T>) => Promise<T | undefined>;

/**
 * A fleet-wide "one at a time" for periodic duties (the reaper): a PostgreSQL session advisory
 * lock on `key`, held on one pooled connection while `fn` runs and released after, so of several
 * gateways and workers sweeping at once exactly one acts and the others skip that round. A
 * process that dies mid-run loses its session and with it the lock. PGlite is one process and
 * one session, so there it simply runs `fn` (holding its only connection would deadlock `fn`).
 */
export function advisoryExclusive(handle: DatabaseHandle, key: number): Exclusive {
  if (handle.engine === "pglite") return (fn) => fn();
  return (fn) =>
    handle.db.connection().execute(async (conn) => {
      const got = await sql<{
        locked: boolean;
      }>`select pg_try_advisory_lock(${key.toString()}::bigint) as locked`.execute(conn);
      if (!got.rows[0]?.locked) return undefined;
      try {
        return await fn();
      } finally {
        await sql`select pg_advisory_unlock(${key.toString()}::bigint)`.execute(conn);
      }
    });
}
