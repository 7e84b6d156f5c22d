import { createHash } from "node:crypto";
import { useTestDatabase } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "../database.js";
import { isUniqueViolation } from "../errors.js";
import { Migrator } from "../migrator.js";
import { ApiKeyRepository } from "./api-keys.js";

const pgDb = useTestDatabase();
const hash = (secret: string) => createHash("sha256").update(secret).digest("hex");

describe.each([["postgres"], ["pglite"]] as const)("ApiKeyRepository on %s", (engine) => {
  let handle: DatabaseHandle;
  let keys: ApiKeyRepository;

  beforeAll(async () => {
    handle = await openDatabase(
      engine === "postgres" ? { url: pgDb.current.url } : { pglite: "memory://" },
    );
    await new Migrator(handle.db).up();
    keys = new ApiKeyRepository(handle.db);
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("creates, finds, touches and revokes keys", async () => {
    const key = await keys.create({
      name: "ci",
      keyHash: hash("aet_secret_1"),
      prefix: "aet_sec",
      scopes: ["read", "write"],
    });
    expect(key).toMatchObject({ name: "ci", scopes: ["read", "write"], lastUsedAt: null });
    expect((await keys.findByHash(hash("aet_secret_1")))?.id).toBe(key.id);
    expect(await keys.findByHash(hash("wrong"))).toBeUndefined();
    const dup = await keys
      .create({ name: "dup", keyHash: hash("aet_secret_1"), prefix: "x", scopes: [] })
      .catch((e: unknown) => e);
    expect(isUniqueViolation(dup, "api_keys_key_hash_key")).toBe(true);

    await keys.touchLastUsed(key.id);
    const used = (await keys.get(key.id))?.lastUsedAt;
    expect(used).toBeInstanceOf(Date);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await keys.touchLastUsed(key.id);
    // Throttled: a second use within the minute writes nothing.
    expect((await keys.get(key.id))?.lastUsedAt).toEqual(used);

    expect((await keys.list()).map((k) => k.id)).toContain(key.id);
    expect(await keys.revoke(key.id)).toBe(true);
    expect(await keys.revoke(key.id)).toBe(false);
    expect(await keys.revoke("not-a-uuid")).toBe(false);
    expect(await keys.findByHash(hash("aet_secret_1"))).toBeUndefined();
    expect((await keys.list()).map((k) => k.id)).not.toContain(key.id);
    expect((await keys.list({ includeRevoked: true })).map((k) => k.id)).toContain(key.id);
  });
});
