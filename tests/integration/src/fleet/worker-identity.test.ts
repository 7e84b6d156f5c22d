import { createLogger, loadConfig } from "@aetherium/common";
import { openControlPlane, type ControlPlane } from "@aetherium/core";
import { useTestDatabase, useTestRedis, TEST_ENCRYPTION_KEY } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkerProcess, type WorkerProcess } from "./fleet.js";

// Real worker processes against one PostgreSQL database and one Redis, claiming worker ids.
const db = useTestDatabase();
const redis = useTestRedis();
let runtime: ControlPlane;
const started: WorkerProcess[] = [];

const start = async (id: string) => {
  const w = await startWorkerProcess({
    id,
    databaseUrl: db.current.url,
    redisUrl: redis.current.url,
    keyPrefix: redis.current.prefix,
  });
  started.push(w);
  return w;
};

beforeAll(async () => {
  const config = loadConfig({
    env: {
      AETHERIUM_DATABASE_URL: db.current.url,
      AETHERIUM_REDIS_URL: redis.current.url,
      AETHERIUM_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      AETHERIUM_REDIS__KEY_PREFIX: redis.current.prefix,
    },
  });
  runtime = await openControlPlane(config, {
    logger: createLogger({ level: "silent", format: "json", service: "identity-test" }),
    migrate: true,
  });
}, 60_000);

afterAll(async () => {
  for (const w of started) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    await w.exited;
  }
  await runtime?.close();
});

describe("worker ids", () => {
  it("refuses a second process under a live worker id, and lets it in once the first is dead", async () => {
    const first = await start("shared-id");
    await expect(start("shared-id")).rejects.toThrow(
      /worker id shared-id is in use by a live worker/,
    );
    expect(first.child.exitCode).toBeNull();
    expect((await runtime.repos.workers.get("shared-id"))?.status).toBe("active");

    // A crash (no offline mark): its heartbeat stops, and a new process may take the id over.
    first.child.kill("SIGKILL");
    await first.exited;
    const second = await start("shared-id");
    expect(second.child.exitCode).toBeNull();
  }, 180_000);
});
