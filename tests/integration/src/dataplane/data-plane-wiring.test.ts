import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:net";
import { DataPlaneClient, dataPlaneTargetFor, type ControlPlane } from "@aetherium/core";
import type { ExecServerMessage, Task } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../fleet/fleet.js";
import { dockerSandboxesHere, startTestWorker, type TestWorker } from "../fixtures/test-worker.js";

// What `aetherium start` / `aetherium worker` compose (openControlPlane, then the worker root): the
// worker's internal port serves the data plane for the sandboxes it runs, at
// the address it advertises, with the token it registered.
const here = await dockerSandboxesHere();
const canRun = here.ok;
if (!canRun) console.warn(`skipping data-plane wiring tests: ${here.detail}`);
// A prebuilt image to run instead of building the working tree's agent into the base image.
const PREBUILT = process.env.AETHERIUM_TEST_SANDBOX_IMAGE;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe.skipIf(!canRun)("the data plane as the worker root serves it", () => {
  const workerId = `dpw-${randomBytes(4).toString("hex")}`;
  const client = new DataPlaneClient();
  let port: number;
  let runtime: ControlPlane;
  let fixture: TestWorker;

  beforeAll(async () => {
    port = await freePort();
    fixture = await startTestWorker(
      "dpw",
      {
        AETHERIUM_WORKER_ID: workerId,
        AETHERIUM_WORKER__INTERNAL_PORT: String(port),
        // Bare host:port: registered as http://localhost:<port>.
        AETHERIUM_WORKER__ADVERTISE_ADDRESS: `localhost:${port}`,
      },
      {
        internalHost: "127.0.0.1",
        ...(PREBUILT ? { sandbox: { image: PREBUILT } } : {}),
      },
    );
    ({ runtime } = fixture);
  }, 300_000);

  afterAll(async () => {
    client.close();
    await fixture?.close();
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
