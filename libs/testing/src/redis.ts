import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";

/** Where the fixtures find the machine's Redis. */
export const TEST_REDIS_URL = process.env.AETHERIUM_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * An isolated slice of the shared Redis: everything a test writes goes under `prefix`, and
 * `cleanup()` deletes exactly those keys. Test files share one server and run in parallel, so a
 * FLUSHDB would wipe a neighbour's queue mid-test; a prefix is the isolation that composes.
 */
export interface TestRedis {
  /** Server URL. */
  readonly url: string;
  /** Key prefix owned by this test file, ending in `:` (e.g. `aet-test:1a2b3c:`). */
  readonly prefix: string;
  /** A connected client for assertions; closed by `cleanup()`. */
  readonly client: Redis;
  /** Opens another connection (BullMQ and pub/sub need their own); closed by `cleanup()`. */
  connect(): Redis;
  /** Deletes every key under `prefix` and closes all connections made here. */
  cleanup(): Promise<void>;
}

/** Creates an isolated Redis namespace for one test file. */
export async function createTestRedis(): Promise<TestRedis> {
  const prefix = `aet-test:${randomBytes(5).toString("hex")}:`;
  const connections: Redis[] = [];
  const connect = () => {
    const c = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: false });
    connections.push(c);
    return c;
  };
  const client = connect();
  await client.ping();
  return {
    url: TEST_REDIS_URL,
    prefix,
    client,
    connect,
    async cleanup() {
      await deleteByPrefix(client, prefix);
      await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}

/** Deletes all keys starting with `prefix` using SCAN (never KEYS, which blocks the server). */
export async function deleteByPrefix(client: Redis, prefix: string): Promise<number> {
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== "0");
  return deleted;
}
