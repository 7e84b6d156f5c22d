import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { UnauthorizedError, UnavailableError, createLogger, loadConfig } from "@aetherium/common";
import { useTestDatabase } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  openControlPlane,
  type ControlPlane,
  DataPlaneClient,
  dataPlaneTargetFor,
} from "@aetherium/core";
import { WorkerDaemon } from "../daemon/worker-daemon.js";

// A worker's internal token lets whoever holds it run commands in that worker's sandboxes. The
// database must not hand it out: the worker and the gateway are separate runtimes here (their own
// homes), sharing only the database and the configured encryption key.
const db = useTestDatabase();
const logger = createLogger({ level: "silent", service: "worker-token-test" });
const KEY = randomBytes(32).toString("base64");
const homes: string[] = [];
const runtimes: ControlPlane[] = [];
const client = new DataPlaneClient({ timeoutMs: 5000 });
const workerId = `wt-${randomBytes(4).toString("hex")}`;
let workerSide: ControlPlane;
let gatewaySide: ControlPlane;
let daemon: WorkerDaemon | undefined;
let vmId: string;

async function runtimeWith(env: Record<string, string>): Promise<ControlPlane> {
  const home = await mkdtemp(path.join(tmpdir(), "aet-wt-"));
  homes.push(home);
  const config = loadConfig({
    env: { AETHERIUM_DATABASE_URL: db.current.url, AETHERIUM_HOME: home, ...env },
  });
  const runtime = await openControlPlane(config, { logger, migrate: true });
  runtimes.push(runtime);
  return runtime;
}

async function startDaemon(): Promise<WorkerDaemon> {
  const made = new WorkerDaemon({
    id: workerId,
    backends: ["docker"],
    capacity: { vcpus: 1, memoryMb: 512, maxVms: 1 },
    heartbeatMs: 1000,
    internal: { host: "127.0.0.1", port: 0 },
    queue: workerSide.queue,
    repos: workerSide.repos,
    bus: workerSide.bus,
    handlers: {},
    logger,
  });
  await made.start();
  return made;
}

async function storedToken(): Promise<string | null> {
  // The column as stored, past the repository that opens it.
  const row = await workerSide.db.db
    .selectFrom("workers")
    .select("internalToken")
    .where("id", "=", workerId)
    .executeTakeFirst();
  return row?.internalToken ?? null;
}

beforeAll(async () => {
  workerSide = await runtimeWith({ AETHERIUM_ENCRYPTION_KEY: KEY });
  gatewaySide = await runtimeWith({ AETHERIUM_ENCRYPTION_KEY: KEY });
  daemon = await startDaemon();
  const vm = await workerSide.repos.vms.create({
    name: "token-owner",
    backend: "docker",
    image: "img",
    vcpus: 1,
    memoryMb: 512,
    workerId,
  });
  await workerSide.repos.vms.updateStatus(vm.id, "pending", "running");
  vmId = vm.id;
});

afterAll(async () => {
  client.close();
  await daemon?.stop(2000);
  for (const r of runtimes) await r.close();
  for (const h of homes) await rm(h, { recursive: true, force: true });
});

describe("a worker's internal token at rest", () => {
  it("is stored sealed: the column's value is refused by the worker as a token", async () => {
    const stored = await storedToken();
    expect(stored).toMatch(/^sealed\.v1\./);
    const target = await dataPlaneTargetFor(gatewaySide.repos, vmId);
    expect(stored).not.toContain(target.token);
    // The gateway's token gets past the worker's check (then: no sandbox manager here, 503);
    // the stored value, tried as a token, is refused.
    const real = client.execute(target, vmId, { command: "true" });
    await expect(real).rejects.toBeInstanceOf(UnavailableError);
    await expect(real).rejects.not.toThrow(/worker token/);
    const withStored = client.execute({ ...target, token: stored! }, vmId, { command: "true" });
    await expect(withStored).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it("does not open for a process with another key, which says what to fix", async () => {
    const stranger = await runtimeWith({
      AETHERIUM_ENCRYPTION_KEY: randomBytes(32).toString("hex"),
    });
    expect((await stranger.repos.workers.get(workerId))?.internalToken).toBeNull();
    await expect(dataPlaneTargetFor(stranger.repos, vmId)).rejects.toThrow(
      /AETHERIUM_ENCRYPTION_KEY/,
    );
  });

  it("is replaced by a fresh one when the worker restarts, which the gateway then uses", async () => {
    const before = await dataPlaneTargetFor(gatewaySide.repos, vmId);
    await daemon?.stop(2000);
    daemon = await startDaemon();
    const after = await dataPlaneTargetFor(gatewaySide.repos, vmId);
    expect(after.token).not.toBe(before.token);
    expect(await storedToken()).not.toContain(after.token);
    await expect(
      client.execute({ ...after, address: daemon.address }, vmId, { command: "true" }),
    ).rejects.toBeInstanceOf(UnavailableError);
    await expect(
      client.execute({ ...before, address: daemon.address }, vmId, { command: "true" }),
    ).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it("uses a key kept under home (mode 0600) when none is configured", async () => {
    const local = await runtimeWith({});
    const file = path.join(homes.at(-1)!, "encryption.key");
    expect((await readFile(file, "utf8")).trim().length).toBeGreaterThanOrEqual(32);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // Not the configured key: the worker's token does not open there.
    expect((await local.repos.workers.get(workerId))?.internalToken).toBeNull();
  });
});
