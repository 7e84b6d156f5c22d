import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import {
  AetheriumClient,
  AuthError,
  BadRequestError,
  ConflictError,
  NotFoundError,
  type EventSubscription,
  type Sandbox,
} from "@aetherium/sdk";
import type { DomainEvent } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAetherium, type StartedAetherium } from "./start-aetherium.js";

/*
 * @aetherium/sdk against a real `aetherium start`: gateway, worker and Docker sandboxes, through
 * the SDK's own HTTP and WebSocket code (the `ws` package here: Node 20 has no global WebSocket).
 */

let app: StartedAetherium;
let client: AetheriumClient;
let sandbox: Sandbox;
let events: EventSubscription | undefined;
const seen: DomainEvent[] = [];
const created: string[] = [];

/** Polls `check` until it holds or `ms` passes; the assertion after it says what was missing. */
async function eventually(check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
}

const eventsFor = (id: string) =>
  seen.filter((e) => "vm" in e.data && e.data.vm.id === id).map((e) => e.type);

beforeAll(async () => {
  app = await startAetherium({ timeoutMs: 120_000 });
  if (!/sandboxes:\s+ready on docker/.test(app.stdout())) {
    throw new Error(`these tests need Docker and the base image:\n${app.stdout()}`);
  }
  client = new AetheriumClient({ url: app.url, apiKey: app.apiKey });
  let opened!: () => void;
  const open = new Promise<void>((r) => (opened = r));
  events = client.events.subscribe({ topics: ["vm"] }, (e) => seen.push(e), { onOpen: opened });
  await open;
}, 150_000);

afterAll(async () => {
  events?.close();
  for (const id of created) {
    await client.vms
      .get(id)
      .then((s) => s.delete({ wait: true }))
      .catch(() => undefined);
  }
  await app?.cleanup();
}, 60_000);

describe("the SDK against a real platform", () => {
  it("creates a sandbox with wait and hands back a running Sandbox", async () => {
    const name = `sdk-${randomBytes(3).toString("hex")}`;
    sandbox = await client.vms.create({ name, labels: { suite: "sdk" } }, { wait: true });
    created.push(sandbox.id);
    expect(sandbox).toMatchObject({ name, status: "running" });
    expect(sandbox.vm.readyAt).not.toBeNull();
    const again = await client.vms.get(sandbox.id);
    expect(again.vm.labels).toEqual({ suite: "sdk" });
    const page = await client.vms.list({ labels: { suite: "sdk" } });
    expect(page.items.map((v) => v.id)).toContain(sandbox.id);
  });

  it("streams stdout and stderr to callbacks as the command writes them, with its exit code", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const decoder = new TextDecoder();
    const execution = await sandbox.exec("echo out; echo err >&2; exit 3", {
      onStdout: (c) => out.push(decoder.decode(c)),
      onStderr: (c) => err.push(decoder.decode(c)),
    });
    expect(execution.exitCode).toBe(3);
    expect(out.join("")).toBe("out\n");
    expect(err.join("")).toBe("err\n");
    expect(execution).toMatchObject({ stdout: "out\n", stderr: "err\n", vmId: sandbox.id });
    // The streamed run is recorded like any other.
    const recorded = await client.executions.get(execution.id);
    expect(recorded).toMatchObject({ id: execution.id, exitCode: 3 });
  });

  it("runs a buffered exec with stdin, args and env", async () => {
    const piped = await sandbox.exec("cat", { stdin: "through stdin\n" });
    expect(piped).toMatchObject({ exitCode: 0, stdout: "through stdin\n" });
    const direct = await sandbox.exec("printenv", { args: ["WHO"], env: { WHO: "sdk" } });
    expect(direct).toMatchObject({ exitCode: 0, stdout: "sdk\n" });
  });

  it("drives a spawned session: stdin written over the socket, closeStdin, exit", async () => {
    const chunks: Uint8Array[] = [];
    const session = await sandbox.spawn("wc", { args: ["-c"], onStdout: (c) => chunks.push(c) });
    session.write(new Uint8Array([1, 2, 3, 4, 5]));
    session.write("abc");
    session.closeStdin();
    const exit = await session.wait();
    expect(exit.exitCode).toBe(0);
    expect(session.executionId).toBe(exit.executionId);
    expect(Buffer.concat(chunks).toString().trim()).toBe("8");
  });

  it("gives a spawned shell a terminal that follows resizes", async () => {
    const out: Buffer[] = [];
    const shell = await sandbox.spawn("sh", {
      pty: { cols: 80, rows: 24 },
      onStdout: (c) => out.push(Buffer.from(c)),
    });
    await shell.started();
    shell.resize(132, 43);
    shell.write("stty size; exit 5\n");
    const exit = await shell.wait();
    expect(exit.exitCode).toBe(5);
    expect(Buffer.concat(out).toString()).toMatch(/43 132/);
    const history = await sandbox.executions({ limit: 10 });
    expect(history.items.map((e) => e.id)).toContain(exit.executionId);
  });

  it("round-trips binary files, lists and removes them", async () => {
    const bytes = new Uint8Array(4096).map((_, i) => (i * 31 + 7) % 256);
    const dir = `/tmp/sdk-${randomBytes(3).toString("hex")}`;
    const written = await sandbox.files.write(`${dir}/blob.bin`, bytes);
    expect(written).toEqual({ path: `${dir}/blob.bin`, size: bytes.length });
    expect(await sandbox.files.read(`${dir}/blob.bin`)).toEqual(bytes);
    const entries = await sandbox.files.list(dir);
    expect(entries).toEqual([
      expect.objectContaining({ name: "blob.bin", type: "file", size: 4096 }),
    ]);
    await sandbox.files.remove(`${dir}/blob.bin`);
    await expect(sandbox.files.read(`${dir}/blob.bin`)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("maps 401, 404 and 400 to their error classes, over HTTP and over the WebSocket", async () => {
    const stranger = new AetheriumClient({ url: app.url, apiKey: "ak_not-a-real-key" });
    await expect(stranger.vms.list()).rejects.toBeInstanceOf(AuthError);
    const strangersHandle = await stranger.vms.get(sandbox.id).catch((e: unknown) => e);
    expect(strangersHandle).toBeInstanceOf(AuthError);
    const keyless = new AetheriumClient({ url: app.url });
    await expect(keyless.health()).resolves.toMatchObject({ status: expect.any(String) });
    await expect(keyless.tasks.list()).rejects.toBeInstanceOf(AuthError);

    await expect(client.vms.get("no-such-sandbox")).rejects.toBeInstanceOf(NotFoundError);
    const bad = await client.vms.create({ vcpus: 0 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BadRequestError);
    expect((bad as BadRequestError).status).toBe(400);
    expect((bad as BadRequestError).requestId).toBeTruthy();

    // A WebSocket refuses a stranger's key at the handshake, and the subscription gives up.
    const refused = await new Promise<unknown>((resolve) => {
      stranger.events.subscribe({}, () => undefined, { onError: resolve });
    });
    expect(refused).toBeInstanceOf(AuthError);
  });

  it("reports tasks, workers and cluster totals", async () => {
    expect(sandbox.taskId === null || typeof sandbox.taskId === "string").toBe(true);
    const tasks = await client.tasks.list({ vmId: sandbox.id });
    expect(tasks.items.map((t) => t.type)).toContain("vm:create");
    const createTask = tasks.items.find((t) => t.type === "vm:create")!;
    await expect(client.tasks.wait(createTask.id)).resolves.toMatchObject({ status: "succeeded" });
    const workers = await client.workers.list();
    expect(workers.items.length).toBeGreaterThan(0);
    const stats = await client.cluster.stats();
    expect(stats.workers.total).toBeGreaterThan(0);
  });

  it("pauses (frozen, no commands) and resumes with its processes intact", async () => {
    // A command that runs through the pause: its session stays open across it.
    const loop = await sandbox.spawn("sh", {
      args: [
        "-c",
        "echo $$ > /tmp/counter.pid; i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done",
      ],
    });
    await loop.started();
    const pid = async () => (await sandbox.exec("cat /tmp/counter.pid")).stdout.trim();
    const alive = async () =>
      (await sandbox.exec("kill -0 $(cat /tmp/counter.pid) && echo alive")).stdout.trim();
    for (let i = 0; i < 50 && (await alive()) !== "alive"; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await alive()).toBe("alive");
    const before = await pid();
    await sandbox.pause({ wait: true });
    expect(sandbox.status).toBe("paused");
    expect(sandbox.vm.expiresAt).toBeNull();
    // Frozen by the engine, not just marked: Docker's freezer holds the container.
    const docker = await promisify(execFile)("docker", [
      "inspect",
      "--format",
      "{{.State.Paused}}",
      `aetherium-${sandbox.id}`,
    ]);
    expect(docker.stdout.trim()).toBe("true");
    await expect(sandbox.exec("true")).rejects.toBeInstanceOf(ConflictError);
    await sandbox.pause({ wait: true }); // pausing a paused sandbox changes nothing
    expect(sandbox.status).toBe("paused");
    await sandbox.resume({ wait: true });
    expect(sandbox.status).toBe("running");
    expect(await pid()).toBe(before);
    expect(await alive()).toBe("alive");
    const count = async () => Number((await sandbox.exec("cat /tmp/count")).stdout.trim());
    const first = await count();
    let later = first;
    for (let i = 0; i < 50 && later === first; i++) {
      await new Promise((r) => setTimeout(r, 100));
      later = await count();
    }
    expect(later).toBeGreaterThan(first);
    loop.signal("SIGKILL");
    expect((await loop.wait()).exitCode).not.toBe(0);
    await eventually(() => eventsFor(sandbox.id).includes("vm.paused"));
    expect(eventsFor(sandbox.id)).toContain("vm.paused");
  });

  it("pauses instead of deleting at the timeout when created with onTimeout: pause", async () => {
    const brief = await client.vms.create(
      { labels: { suite: "sdk" }, timeoutSec: 2, onTimeout: "pause" },
      { wait: true },
    );
    created.push(brief.id);
    await brief.exec("echo kept > /tmp/kept");
    await brief.waitUntil("paused", { timeoutMs: 60_000 });
    await brief.resume({ wait: true });
    expect(brief.status).toBe("running");
    await expect(brief.exec("cat /tmp/kept")).resolves.toMatchObject({ stdout: "kept\n" });
    await brief.delete({ wait: true });
  }, 90_000);

  it("stops and starts with wait, and runs commands again after", async () => {
    await sandbox.stop({ wait: true });
    expect(sandbox.status).toBe("stopped");
    await sandbox.start({ wait: true });
    expect(sandbox.status).toBe("running");
    await expect(sandbox.exec("echo back")).resolves.toMatchObject({ stdout: "back\n" });
    const later = await sandbox.setTimeout(3600);
    expect(later.expiresAt).not.toBeNull();
  });

  it("returns the first sandbox again for a repeated idempotency key", async () => {
    const key = `idem-${randomBytes(4).toString("hex")}`;
    const first = await client.vms.create({ labels: { suite: "sdk" } }, { idempotencyKey: key });
    created.push(first.id);
    const second = await client.vms.create({ labels: { suite: "sdk" } }, { idempotencyKey: key });
    expect(second.id).toBe(first.id);
    await first.waitUntil("running");
    await first.delete({ wait: true });
    await expect(first.waitUntil("deleted")).resolves.toMatchObject({ status: "deleted" });
  });

  it("saw vm.created and vm.running, and sees vm.deleted after a waited delete", async () => {
    await eventually(() => eventsFor(sandbox.id).includes("vm.running"));
    expect(eventsFor(sandbox.id)).toEqual(expect.arrayContaining(["vm.created", "vm.running"]));
    await sandbox.delete({ wait: true });
    await eventually(() => eventsFor(sandbox.id).includes("vm.deleted"));
    expect(eventsFor(sandbox.id)).toContain("vm.deleted");
    // Only the asked-for topic arrived.
    expect(seen.every((e) => e.type.startsWith("vm."))).toBe(true);
  });
});
