import { readFile } from "node:fs/promises";
import path from "node:path";
import { DockerBackend, WORKER_ID_FILE, type WorkerProcess } from "@aetherium/worker";
import { type ControlPlane } from "@aetherium/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../fleet/fleet.js";
import { dockerSandboxesHere, startTestWorker, type TestWorker } from "../fixtures/test-worker.js";

// The embedded stack as `aetherium start` wires it, with no worker id configured: the worker
// makes its own, and follows the engine's events for its sandboxes.
const here = await dockerSandboxesHere();
const canRun = here.ok;
if (!canRun) console.warn(`skipping backend event tests: ${here.detail}`);

describe.skipIf(!canRun)("a worker watching its containers", () => {
  const backend = new DockerBackend();
  let home: string;
  let runtime: ControlPlane;
  let worker: WorkerProcess;
  let fixture: TestWorker;

  beforeAll(async () => {
    fixture = await startTestWorker("events");
    ({ runtime } = fixture);
    worker = fixture.worker;
    home = fixture.home;
  }, 300_000);

  afterAll(async () => {
    await fixture?.close();
  }, 60_000);

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
