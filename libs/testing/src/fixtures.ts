import { afterAll, beforeAll } from "vitest";
import { createTestDatabase, type TestDatabase } from "./postgres.js";
import { createTestRedis, type TestRedis } from "./redis.js";

/**
 * Registers `beforeAll`/`afterAll` hooks that give the calling test file its own database and
 * drop it afterwards, even when tests fail. Read `.current` inside tests or hooks.
 */
export function useTestDatabase(): { readonly current: TestDatabase } {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  return {
    get current(): TestDatabase {
      if (!db) throw new Error("useTestDatabase(): read .current inside a test or hook");
      return db;
    },
  };
}

/** Registers hooks that give the calling test file an isolated Redis namespace, cleaned up after. */
export function useTestRedis(): { readonly current: TestRedis } {
  let redis: TestRedis | undefined;
  beforeAll(async () => {
    redis = await createTestRedis();
  });
  afterAll(async () => {
    await redis?.cleanup();
  });
  return {
    get current(): TestRedis {
      if (!redis) throw new Error("useTestRedis(): read .current inside a test or hook");
      return redis;
    },
  };
}
