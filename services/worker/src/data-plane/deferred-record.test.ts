import { randomBytes } from "node:crypto";
import { createLogger, InMemoryEventBus } from "@aetherium/common";
import { useTestDatabase } from "@aetherium/testing";
import pg from "pg";
import {
  dockerTestHost,
  ensureSandboxTestImage,
  SANDBOX_TEST_IMAGE,
} from "../testing/sandbox-test-image.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerBackend } from "../docker/docker-backend.js";
import {
  InProcessJobQueue,
  openDatabase,
  type DatabaseHandle,
  Migrator,
  createRepositories,
  type Repositories,
  DataPlaneClient,
  dataPlaneTargetFor,
  type DataPlaneTarget,
} from "@aetherium/core";
import { SandboxManager } from "../sandbox/sandbox-manager.js";
import { SandboxManagers } from "../sandbox/sandbox-managers.js";
import { WorkerDaemon } from "../daemon/worker-daemon.js";

// A synchronous execute answers once the agent reports the exit and completes its row in the
// background. To show the answer does not wait for that write, a trigger makes every UPDATE of
// `executions` wait for an advisory lock that the test holds on a connection of its own.
const TAG = SANDBOX_TEST_IMAGE;
const host = await dockerTestHost({ needsDebootstrap: false });
const canRun = host.ok;
if (!canRun) console.warn(`skipping deferred-record tests: ${host.detail}`);
const LOCK = 424242;

/** Settles with "pending" if `p` has not settled within `ms` (a bound, not a timing assertion). */
function within<T>(p: Promise<T>, ms: number): Promise<T | "pending"> {
  return Promise.race([p, new Promise<"pending">((r) => setTimeout(() => r("pending"), ms))]);
}

describe.skipIf(!canRun)("execute answers before its record's completion write", () => {
  const pgdb = useTestDatabase();
  const workerId = `dr-${randomBytes(4).toString("hex")}`;
  const backend = new DockerBackend();
  const bus = new InMemoryEventBus();
  const logger = createLogger({ service: "test", level: "silent", format: "json" });
  const client = new DataPlaneClient({ timeoutMs: 60_000 });
  let handle: DatabaseHandle;
  let repos: Repositories;
  let manager: SandboxManager;
  let daemon: WorkerDaemon;
  let vmId: string;
  let target: DataPlaneTarget;
  let locker: pg.Client;

  beforeAll(async () => {
    await ensureSandboxTestImage();
    handle = await openDatabase({ url: pgdb.current.url });
    await new Migrator(handle.db).up();
    repos = createRepositories(handle.db);
    // At most one completion write in flight: the second caller waits for its own.
    manager = new SandboxManager({
      backend,
      repos,
      bus,
      workerId,
      logger,
      deferredRecordLimit: 1,
    });
    daemon = new WorkerDaemon({
      id: workerId,
      backends: ["docker"],
      capacity: { vcpus: 2, memoryMb: 2048, maxVms: 2 },
      heartbeatMs: 1000,
      internal: { host: "127.0.0.1", port: 0 },
      queue: new InProcessJobQueue({ logger }),
      repos,
      bus,
      handlers: {},
      logger,
      dataPlane: { managers: new SandboxManagers([manager], repos) },
    });
    await daemon.start();
    const row = await repos.vms.create({
      name: "dr",
      backend: "docker",
      image: TAG,
      vcpus: 1,
      memoryMb: 256,
    });
    await manager.create(row.id);
    vmId = row.id;
    target = await dataPlaneTargetFor(repos, vmId);
    locker = new pg.Client({ connectionString: pgdb.current.url });
    await locker.connect();
    await locker.query(`
      CREATE FUNCTION test_hold_execution_updates() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_advisory_xact_lock(${LOCK}); RETURN NEW; END $$;
      CREATE TRIGGER test_hold_execution_updates BEFORE UPDATE ON executions
      FOR EACH ROW EXECUTE FUNCTION test_hold_execution_updates();
    `);
  }, 300_000);

  afterAll(async () => {
    await locker?.query(`SELECT pg_advisory_unlock_all()`).catch(() => undefined);
    await locker?.end().catch(() => undefined);
    client.close();
    await daemon?.stop(2000);
    await manager?.close();
    for (const s of await backend.list({ workerId })) await backend.remove(s.sandboxId);
    await handle?.close();
  }, 60_000);

  it("answers the complete record while its write waits, then stores exactly what it answered", async () => {
    await locker.query(`SELECT pg_advisory_lock($1)`, [LOCK]);
    let locked = true;
    try {
      const first = client.execute(target, vmId, { command: "echo hi; exit 3" });
      const answer = await within(first, 30_000);
      expect(answer).not.toBe("pending");
      if (answer === "pending") return;
      expect(answer).toMatchObject({ vmId, exitCode: 3, stdout: "hi\n", error: null });
      expect(answer.completedAt).not.toBeNull();
      expect(answer.durationMs).toEqual(expect.any(Number));
      // The row was inserted before the command started: a crash now would still leave it.
      const stored = await repos.executions.get(answer.id);
      expect(stored).toMatchObject({ command: "echo hi; exit 3", completedAt: null });

      // The bound: with one write in flight, the next caller waits for its own record.
      const second = client.execute(target, vmId, { command: "true" });
      expect(await within(second, 3000)).toBe("pending");

      await locker.query(`SELECT pg_advisory_unlock($1)`, [LOCK]);
      locked = false;
      const secondAnswer = await second;
      expect(secondAnswer.exitCode).toBe(0);
      // Waited for, so readable complete at once.
      expect(await repos.executions.get(secondAnswer.id)).toMatchObject({ exitCode: 0 });
      await manager.settled();
      const completed = await repos.executions.get(answer.id);
      expect(completed).toMatchObject({
        exitCode: 3,
        stdout: "hi\n",
        error: null,
        durationMs: answer.durationMs,
      });
      expect(completed?.completedAt?.toISOString()).toBe(answer.completedAt);
    } finally {
      if (locked) await locker.query(`SELECT pg_advisory_unlock($1)`, [LOCK]);
    }
  }, 120_000);
});
