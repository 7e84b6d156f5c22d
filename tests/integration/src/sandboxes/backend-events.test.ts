import { readFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, loadConfig } from "@aetherium/common";
import {
  DEFAULT_BASE_IMAGE,
  buildAgentBundle,
  buildBaseImage,
  detectBackends,
  DockerBackend,
  openRuntime,
  openSandboxRuntime,
  startWorker,
  WORKER_ID_FILE,
  type Runtime,
  type SandboxRuntime,
  type StartedWorker,
} from "@aetherium/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../fleet/fleet.js";

// The embedded stack as `aetherium start` wires it, with no worker id configured: the worker
// makes its own, and follows the engine's events for its sandboxes.
const repo = path.resolve(import.meta.dirname, "../../../..");
const docker = (await detectBackends()).find((b) => b.backend === "docker");
const canRun = docker?.available === true && process.getuid?.() === 0;
if (!canRun)
  console.warn(`skipping backend event tests: needs root and dockerd (${docker?.detail})`);

describe.skipIf(!canRun)("a worker watching its containers", () => {
  const backend = new DockerBackend();
  let home: string;
  let runtime: Runtime;
  let sandboxes: SandboxRuntime;
  let worker: StartedWorker;

  beforeAll(async () => {
    const agent = await buildAgentBundle();
    await buildBaseImage({
      agentFile: agent.path,
      cacheDir: path.join(repo, ".aetherium/cache/image"),
      tag: DEFAULT_BASE_IMAGE,
    });
    home = await mkdtemp(path.join(tmpdir(), "aet-events-"));
    const config = loadConfig({
      env: {
        AETHERIUM_HOME: home,
        AETHERIUM_WORKER__HEARTBEAT_MS: "500",
        AETHERIUM_WORKER__OFFLINE_AFTER_MS: "5000",
      },
    });
    const logger = createLogger({ service: "events", level: "silent", format: "json" });
    runtime = await openRuntime(config, { logger });
    sandboxes = await openSandboxRuntime(runtime, config, logger);
    worker = await startWorker(runtime, config, {
      logger,
      backends: sandboxes.backends,
      handlers: sandboxes.handlers,
      internalPort: 0,
      ...(sandboxes.manager ? { manager: sandboxes.manager } : {}),
    });
  }, 300_000);

  afterAll(async () => {
    await worker?.stop(5000);
    await sandboxes?.close();
    if (worker) {
      for (const s of await backend.list({ workerId: worker.daemon.id }))
        await backend.remove(s.sandboxId);
    }
    await runtime?.close();
    await backend.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("runs under an id of its own, kept in its home", async () => {
    const kept = (await readFile(path.join(home, WORKER_ID_FILE), "utf8")).trim();
    expect(worker.daemon.id).toBe(kept);
    expect(kept).toMatch(/-[0-9a-f]{8}$/);
  });

  it("moves a sandbox whose container is killed, then removed, out of running with the reason", async () => {
    const { vm, taskId } = await runtime.vms.create({ name: "victim", memoryMb: 256 });
    await waitFor(
      async () => {
        const t = await runtime.tasks.get(taskId);
        return ["succeeded", "failed", "cancelled"].includes(t.status) && t;
      },
      "create",
      120_000,
    );
    expect((await runtime.vms.get(vm.id)).status).toBe("running");

    await backend.docker.getContainer(`aetherium-${vm.id}`).kill();
    const stopped = await waitFor(async () => {
      const v = await runtime.vms.get(vm.id);
      return v.status === "stopped" && v;
    }, "the killed sandbox to leave running");
    expect(stopped.error).toMatch(/code 137 \(SIGKILL\)/);

    await backend.docker.getContainer(`aetherium-${vm.id}`).remove({ force: true });
    const lost = await waitFor(async () => {
      const v = await runtime.vms.get(vm.id);
      return v.status === "lost" && v;
    }, "the removed sandbox to be lost");
    expect(lost.error).toMatch(/removed outside the platform/);
  }, 180_000);
});
