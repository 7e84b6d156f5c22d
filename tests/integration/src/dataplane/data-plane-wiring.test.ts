import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, loadConfig } from "@aetherium/common";
import {
  DEFAULT_BASE_IMAGE,
  buildAgentBundle,
  buildBaseImage,
  DataPlaneClient,
  dataPlaneTargetFor,
  detectBackends,
  DockerBackend,
  openRuntime,
  openSandboxRuntime,
  startWorker,
  type Runtime,
  type SandboxRuntime,
  type StartedWorker,
} from "@aetherium/core";
import type { ExecServerMessage, Task } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../fleet/fleet.js";

// What `aetherium start` / `aetherium worker` compose (openRuntime → openSandboxRuntime →
// startWorker): the worker's internal port serves the data plane for the sandboxes it runs, at
// the address it advertises, with the token it registered.
const repo = path.resolve(import.meta.dirname, "../../../..");
const docker = (await detectBackends()).find((b) => b.backend === "docker");
const canRun = docker?.available === true && process.getuid?.() === 0;
if (!canRun) console.warn(`skipping data-plane wiring tests: needs root and dockerd`);
// A prebuilt image to run instead of building the working tree's agent into the base image.
const PREBUILT = process.env.AETHERIUM_TEST_SANDBOX_IMAGE;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe.skipIf(!canRun)("the data plane as startWorker serves it", () => {
  const workerId = `dpw-${randomBytes(4).toString("hex")}`;
  const client = new DataPlaneClient();
  let home: string;
  let port: number;
  let runtime: Runtime;
  let sandboxes: SandboxRuntime;
  let worker: StartedWorker;

  beforeAll(async () => {
    if (!PREBUILT) {
      const agent = await buildAgentBundle();
      await buildBaseImage({
        agentFile: agent.path,
        cacheDir: path.join(repo, ".aetherium/cache/image"),
        tag: DEFAULT_BASE_IMAGE,
      });
    }
    home = await mkdtemp(path.join(tmpdir(), "aet-dpw-"));
    port = await freePort();
    const config = loadConfig({
      env: {
        AETHERIUM_HOME: home,
        AETHERIUM_WORKER_ID: workerId,
        AETHERIUM_WORKER__HEARTBEAT_MS: "500",
        AETHERIUM_WORKER__INTERNAL_PORT: String(port),
        // Bare host:port: registered as http://localhost:<port>.
        AETHERIUM_WORKER__ADVERTISE_ADDRESS: `localhost:${port}`,
      },
    });
    const logger = createLogger({ service: "dpw", level: "silent", format: "json" });
    runtime = await openRuntime(config, { logger });
    sandboxes = await openSandboxRuntime(runtime, config, logger, {
      ...(PREBUILT ? { image: PREBUILT } : {}),
    });
    worker = await startWorker(runtime, config, {
      logger,
      backends: sandboxes.backends,
      handlers: sandboxes.handlers,
      ...(sandboxes.manager ? { manager: sandboxes.manager } : {}),
      internalHost: "127.0.0.1",
    });
  }, 300_000);

  afterAll(async () => {
    client.close();
    await worker?.stop(5000);
    await sandboxes?.close();
    const backend = new DockerBackend();
    for (const s of await backend.list({ workerId })) await backend.remove(s.sandboxId);
    await runtime?.close();
    if (home) await rm(home, { recursive: true, force: true });
  }, 60_000);

  it("registers the advertised address and a token the public shape hides", async () => {
    const row = await runtime.repos.workers.get(workerId);
    expect(row?.address).toBe(`http://localhost:${port}`);
    expect(row?.internalToken).toBeTruthy();
    const shown = await runtime.workers.get(workerId);
    expect(JSON.stringify(shown)).not.toContain(row!.internalToken!);
    expect(shown).not.toHaveProperty("internalToken");
  });

  it("executes and streams in a sandbox made through the queue", async () => {
    const { vm, taskId } = await runtime.vms.create({
      name: "dpw",
      memoryMb: 256,
      ...(PREBUILT ? { image: PREBUILT } : {}),
    });
    const task = await waitFor(
      async () => {
        const t: Task = await runtime.tasks.get(taskId);
        return ["succeeded", "failed", "cancelled"].includes(t.status) && t;
      },
      "the create task",
      60_000,
    );
    expect(task.status).toBe("succeeded");
    const target = await dataPlaneTargetFor(runtime.repos, vm.id);
    expect(target.address).toBe(`http://localhost:${port}`);

    const execution = await client.execute(target, vm.id, { command: "echo wired; exit 2" });
    expect(execution).toMatchObject({ exitCode: 2, stdout: "wired\n" });
    expect((await runtime.repos.executions.listByVm(vm.id)).items).toHaveLength(1);

    await client.writeFile(target, vm.id, "/tmp/w.txt", Buffer.from("written"));
    expect((await client.execute(target, vm.id, { command: "cat /tmp/w.txt" })).stdout).toBe(
      "written",
    );

    const ws = await client.openExec(target, vm.id);
    const messages: ExecServerMessage[] = [];
    ws.on("message", (raw: Buffer) => messages.push(JSON.parse(raw.toString("utf8"))));
    const closed = once(ws, "close");
    ws.send(JSON.stringify({ type: "start", command: "echo streamed" }));
    await closed;
    expect(messages.map((m) => m.type)).toEqual(["started", "stdout", "exit"]);
    expect(messages.at(-1)).toMatchObject({ type: "exit", exitCode: 0 });
  });
});
