import { describe, expect, it } from "vitest";
import { createTestRedis } from "./redis.js";

describe("createTestRedis", () => {
  it("isolates keys by prefix and removes only its own on cleanup", async () => {
    const a = await createTestRedis();
    const b = await createTestRedis();
    expect(a.prefix).not.toBe(b.prefix);
    await a.client.set(`${a.prefix}k`, "from-a");
    await b.client.set(`${b.prefix}k`, "from-b");
    const extra = a.connect();
    await extra.rpush(`${a.prefix}list`, "1", "2");

    await a.cleanup();
    expect(await b.client.get(`${b.prefix}k`)).toBe("from-b");
    expect(await b.client.exists(`${a.prefix}k`, `${a.prefix}list`)).toBe(0);
    expect(extra.status).toMatch(/end|close/);
    await b.cleanup();
    const check = await createTestRedis();
    expect(await check.client.exists(`${b.prefix}k`)).toBe(0);
    await check.cleanup();
  });
});
