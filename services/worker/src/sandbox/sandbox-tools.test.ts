import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { createLogger, InMemoryEventBus } from "@aetherium/common";
import {
  createRepositories,
  installTools,
  Migrator,
  openDatabase,
  type DatabaseHandle,
  type Repositories,
} from "@aetherium/core";
import { buildFakeMisePluginImage, FAKE_TOOL_FAILURE, OFFLINE_MISE_ENV } from "@aetherium/testing";
import type { DomainEvent, EventData } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerBackend } from "../docker/docker-backend.js";
import {
  dockerTestHost,
  ensureSandboxTestImage,
  SANDBOX_TEST_IMAGE,
} from "../testing/sandbox-test-image.js";
import { agentCommandRunner } from "./sandbox-command-runner.js";
import { SandboxManager } from "./sandbox-manager.js";

// Tools through mise in real Docker sandboxes, offline: local asdf-style plugins linked in the
// image whose install scripts the test controls (one installs, one fails, one hangs).
const host = await dockerTestHost({ needsDebootstrap: true });
if (!host.ok) console.warn(`skipping sandbox tools tests: ${host.detail}`);

type ToolEvent = EventData<"vm.tool">;

describe.skipIf(!host.ok)("a new sandbox's tools, installed with mise before it runs", () => {
  const workerId = `tools-${randomBytes(4).toString("hex")}`;
  const image = `aetherium/test-mise-tools:${workerId}`;
  const backend = new DockerBackend();
  const bus = new InMemoryEventBus();
  const toolEvents: ToolEvent[] = [];
  const vmEvents: DomainEvent[] = [];
  let handle: DatabaseHandle;
  let repos: Repositories;
  let manager: SandboxManager;

  beforeAll(async () => {
    await ensureSandboxTestImage();
    await buildFakeMisePluginImage(SANDBOX_TEST_IMAGE, image, [
      { name: "faketool" },
      { name: "failtool", behaviour: "fail" },
      { name: "hangtool", behaviour: "hang" },
    ]);
    handle = await openDatabase({ pglite: "memory://" });
    await new Migrator(handle.db).up();
    repos = createRepositories(handle.db);
    await repos.workers.register({ id: workerId, hostname: "test", address: "http://127.0.0.1:1" });
    bus.subscribe(["vm.*"], (e) => {
      if (e.type === "vm.tool") toolEvents.push(e.data as ToolEvent);
      else vmEvents.push(e);
    });
    manager = new SandboxManager({
      backend,
      repos,
      bus,
      workerId,
      logger: createLogger({ service: "test", level: "silent", format: "json" }),
      toolTimeoutMs: 3000,
    });
  }, 300_000);

  afterAll(async () => {
    await manager?.close();
    for (const s of await backend.list({ workerId })) await backend.remove(s.sandboxId);
    await handle?.close();
    await promisify(execFile)("docker", ["rmi", "--force", image]).catch(() => undefined);
  });

  const newVm = (name: string, tools: string[], env: Record<string, string> = {}) =>
    repos.vms.create({
      name,
      backend: "docker",
      image,
      vcpus: 1,
      memoryMb: 256,
      tools,
      env: { ...OFFLINE_MISE_ENV, ...env },
    });
  const eventsOf = (vmId: string) => toolEvents.filter((e) => e.vmId === vmId);

  it("installs and verifies the tools, streams progress, and puts them on the user's PATH", async () => {
    const row = await newVm("with-tools", ["faketool@1.2.3"]);
    const running = await manager.create(row.id);
    expect(running).toMatchObject({ status: "running", error: null, tools: ["faketool@1.2.3"] });
    const steps = eventsOf(row.id);
    expect(steps[0]).toEqual({ vmId: row.id, spec: "faketool@1.2.3", phase: "started" });
    expect(
      steps
        .filter((s) => s.phase === "output")
        .map((s) => s.output)
        .join(""),
    ).toMatch(/installing faketool 1\.2\.3/);
    expect(steps.at(-1)).toMatchObject({
      phase: "succeeded",
      version: "1.2.3",
      path: "/home/user/.local/share/mise/installs/faketool/1.2.3/bin/faketool",
    });
    // The sandbox announced running only after its tools were there.
    const ofVm = vmEvents.filter((e) => (e.data as { vm: { id: string } }).vm.id === row.id);
    expect(ofVm.map((e) => e.type)).toEqual(["vm.creating", "vm.running"]);

    // A later command of the user finds the tool by name, through mise's shims.
    const later = await manager.exec(row.id, {
      command: "faketool; command -v faketool",
      user: "user",
    });
    expect(later).toMatchObject({ exitCode: 0 });
    expect(later.stdout).toBe("faketool 1.2.3\n/home/user/.local/share/mise/shims/faketool\n");

    // Installing again skips what is there; another version installs beside it.
    const runner = agentCommandRunner((id, spec, handlers) =>
      manager.startProcess(id, spec, handlers),
    );
    const again = await installTools(runner, row.id, ["faketool@1.2.3", "faketool@1.0.0"]);
    expect(again.map((r) => [r.spec, r.status, r.version])).toEqual([
      ["faketool@1.2.3", "skipped", "1.2.3"],
      ["faketool@1.0.0", "succeeded", "1.0.0"],
    ]);
    const now = await manager.exec(row.id, { command: "faketool", user: "user" });
    expect(now.stdout).toBe("faketool 1.0.0\n");
    await manager.delete(row.id);
  }, 120_000);

  it("fails the sandbox when a tool fails, naming the tool with its output, and removes it", async () => {
    const row = await newVm("bad-tool", ["faketool@1.2.3", "failtool@1.0.0"]);
    await expect(manager.create(row.id)).rejects.toThrow(/tool failtool@1\.0\.0 failed/);
    const failed = await repos.vms.get(row.id);
    expect(failed?.status).toBe("failed");
    expect(failed?.error).toMatch(/^tool failtool@1\.0\.0 failed: mise exited with code 1/);
    expect(failed?.error).toContain(`${FAKE_TOOL_FAILURE} failtool`);
    expect(
      eventsOf(row.id)
        .filter((s) => s.phase !== "output")
        .map((s) => [s.spec, s.phase]),
    ).toEqual([
      ["faketool@1.2.3", "started"],
      ["faketool@1.2.3", "succeeded"],
      ["failtool@1.0.0", "started"],
      ["failtool@1.0.0", "failed"],
    ]);
    expect(eventsOf(row.id).at(-1)?.error).toMatch(/^tool failtool@1\.0\.0 failed/);
    expect((await backend.list({ workerId })).map((s) => s.sandboxId)).not.toContain(row.id);
  }, 120_000);

  it("kills a tool that outlives its timeout and fails the sandbox naming it", async () => {
    const row = await newVm("slow-tool", ["hangtool@1.0.0"]);
    await expect(manager.create(row.id)).rejects.toThrow(/tool hangtool@1\.0\.0 failed: timed out/);
    const failed = await repos.vms.get(row.id);
    expect(failed?.status).toBe("failed");
    expect(failed?.error).toMatch(/timed out after 3000 ms and was killed/);
    expect(failed?.error).toContain("hangtool install started");
  }, 120_000);

  it("keeps the sandbox's env values out of the tool output it publishes and stores", async () => {
    const secret = `s3cret-${randomBytes(8).toString("hex")}`;
    // The failing install prints FAKE_TOOL_ECHO: the secret is in its raw output.
    const row = await newVm("secret-tool", ["failtool@1.0.0"], { FAKE_TOOL_ECHO: secret });
    await expect(manager.create(row.id)).rejects.toThrow(/failtool/);
    const stored = (await repos.vms.get(row.id))?.error ?? "";
    expect(stored).toContain("compiling failtool 1.0.0 [redacted]");
    expect(stored).not.toContain(secret);
    expect(JSON.stringify(eventsOf(row.id))).not.toContain(secret);
  }, 120_000);
});
