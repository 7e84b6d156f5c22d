import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { runAether } from "@aetherium/cli";
import { DEFAULT_BASE_IMAGE, Migrator, openDatabase, type ControlPlane } from "@aetherium/core";
import {
  buildFakeMisePluginImage,
  FAKE_TOOL_FAILURE,
  OFFLINE_MISE_ENV,
  useTestDatabase,
  useTestRedis,
  TEST_ENCRYPTION_KEY,
} from "@aetherium/testing";
import type { DomainEvent, EventData, Vm } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway } from "../fixtures/test-gateway.js";
import { dockerSandboxesHere, startTestWorker, type TestWorker } from "../fixtures/test-worker.js";

// `POST /vms {tools}` on the distributed stack (PostgreSQL, Redis queue and bus, a worker with
// Docker) through the real gateway: mise installs the tools offline from local asdf-style plugins
// baked into the sandbox's image, before the sandbox is `running`.
const here = await dockerSandboxesHere();
if (!here.ok) console.warn(`skipping sandbox tools tests: ${here.detail}`);

const db = useTestDatabase();
const redis = useTestRedis();

describe.skipIf(!here.ok)("sandboxes with tools through the gateway and a worker", () => {
  const image = `aetherium/test-mise-tools:int-${randomBytes(4).toString("hex")}`;
  let fixture: TestWorker;
  let runtime: ControlPlane;
  let url: string;
  let admin: string;
  let close: () => Promise<void>;
  const toolEvents: EventData<"vm.tool">[] = [];

  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${url}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${admin}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  beforeAll(async () => {
    const migrating = await openDatabase({ url: db.current.url });
    await new Migrator(migrating.db).up();
    await migrating.close();
    fixture = await startTestWorker("tools", {
      AETHERIUM_DATABASE_URL: db.current.url,
      AETHERIUM_REDIS_URL: redis.current.url,
      AETHERIUM_REDIS__KEY_PREFIX: redis.current.prefix,
      AETHERIUM_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      // The per-tool timeout comes from configuration (default 600 s).
      AETHERIUM_SANDBOX__TOOL_TIMEOUT_SEC: "4",
      AETHERIUM_WORKER_ID: `tools-${randomBytes(4).toString("hex")}`,
    });
    runtime = fixture.runtime;
    await buildFakeMisePluginImage(DEFAULT_BASE_IMAGE, image, [
      { name: "faketool" },
      { name: "failtool", behaviour: "fail" },
      { name: "hangtool", behaviour: "hang" },
    ]);
    runtime.bus.subscribe(["vm.tool"], (e: DomainEvent) => {
      toolEvents.push(e.data as EventData<"vm.tool">);
    });
    const gateway = await startTestGateway(fixture, "tools-test", { waitTimeoutMs: 90_000 });
    ({ url, admin } = gateway);
    close = () => gateway.close();
  }, 300_000);

  afterAll(async () => {
    await close?.();
    await fixture?.close();
    await promisify(execFile)("docker", ["rmi", "--force", image]).catch(() => undefined);
  }, 60_000);

  it("answers ?wait=true once the tools are installed, and the user's later commands find them", async () => {
    const r = await api("POST", "/api/v1/vms?wait=true", {
      name: "with-faketool",
      image,
      memoryMb: 256,
      env: OFFLINE_MISE_ENV,
      tools: ["faketool@1.2.3"],
    });
    expect(r.status).toBe(201);
    const vm = r.body.vm as Vm;
    expect(vm).toMatchObject({ status: "running", tools: ["faketool@1.2.3"], error: null });
    expect(toolEvents.filter((e) => e.vmId === vm.id).at(-1)).toMatchObject({
      spec: "faketool@1.2.3",
      phase: "succeeded",
      version: "1.2.3",
    });
    const exec = await api("POST", `/api/v1/vms/${vm.id}/execute`, {
      command: "faketool",
      user: "user",
    });
    expect(exec.status).toBe(200);
    expect(exec.body.execution).toMatchObject({ exitCode: 0, stdout: "faketool 1.2.3\n" });
    expect((await api("DELETE", `/api/v1/vms/${vm.id}?wait=true`)).status).toBe(204);
  }, 180_000);

  it("fails the sandbox naming the tool with its output, in the sandbox, its task and the wait", async () => {
    const r = await api("POST", "/api/v1/vms", {
      name: "with-failtool",
      image,
      memoryMb: 256,
      env: OFFLINE_MISE_ENV,
      tools: ["faketool@1.2.3", "failtool@2.0.0"],
    });
    expect(r.status).toBe(202);
    const { vm, taskId } = r.body as { vm: Vm; taskId: string };
    let task = (await api("GET", `/api/v1/tasks/${taskId}`)).body.task;
    for (let i = 0; i < 600 && !["succeeded", "failed"].includes(task.status); i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      task = (await api("GET", `/api/v1/tasks/${taskId}`)).body.task;
    }
    expect(task.status).toBe("failed");
    expect(task.error).toMatch(/tool failtool@2\.0\.0 failed: mise exited with code 1/);
    const failed = (await api("GET", `/api/v1/vms/${vm.id}`)).body.vm as Vm;
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/^tool failtool@2\.0\.0 failed/);
    expect(failed.error).toContain(`${FAKE_TOOL_FAILURE} failtool`);
    expect(
      toolEvents.filter((e) => e.vmId === vm.id && e.phase !== "output").map((e) => e.phase),
    ).toEqual(["started", "succeeded", "started", "failed"]);
    const waited = await api("POST", "/api/v1/vms?wait=true", {
      image,
      memoryMb: 256,
      env: OFFLINE_MISE_ENV,
      tools: ["failtool@1.0.0"],
    });
    expect(waited.status).toBe(503);
    expect(waited.body.error.message).toMatch(/create failed: tool failtool@1\.0\.0 failed/);
  }, 180_000);

  it("kills a tool that outlives sandbox.toolTimeoutSec and fails the sandbox naming it", async () => {
    const r = await api("POST", "/api/v1/vms?wait=true", {
      image,
      memoryMb: 256,
      env: OFFLINE_MISE_ENV,
      tools: ["hangtool@1.0.0"],
    });
    expect(r.status).toBe(503);
    expect(r.body.error.message).toMatch(
      /tool hangtool@1\.0\.0 failed: timed out after 4000 ms and was killed/,
    );
    expect(r.body.error.message).toContain("hangtool install started");
  }, 180_000);

  it("aether vm create --tool installs them, showing each tool's progress", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      stdout: { write: (c: string | Uint8Array) => out.push(Buffer.from(c).toString("utf8")) },
      stderr: { write: (c: string | Uint8Array) => err.push(Buffer.from(c).toString("utf8")) },
      stdin: { isTTY: true, async *[Symbol.asyncIterator]() {} },
      env: {},
      cwd: fixture.home,
    };
    const code = await runAether(
      [
        "--url",
        url,
        "--api-key",
        admin,
        "vm",
        "create",
        "--name",
        "cli-tools",
        "--image",
        image,
        "--memory",
        "256",
        "--env",
        "MISE_OFFLINE=1",
        "--tool",
        "faketool@1.0.0",
        "--tool",
        "faketool@1.2.3",
      ],
      io,
    );
    expect(code, err.join("")).toBe(0);
    const progress = err.join("");
    expect(progress).toMatch(/installing faketool@1\.0\.0/);
    expect(progress).toMatch(/tool faketool@1\.0\.0: installed 1\.0\.0 in \d+\.\d s\n/);
    expect(progress).toMatch(/tool faketool@1\.2\.3: installed 1\.2\.3 in \d+\.\d s\n/);
    expect(out.join("")).toMatch(/sandbox cli-tools is running/);
    const failing = await runAether(
      [
        "--url",
        url,
        "--api-key",
        admin,
        "vm",
        "create",
        "--image",
        image,
        "--memory",
        "256",
      ].concat(["--env", "MISE_OFFLINE=1", "--tool", "failtool@1.0.0"]),
      io,
    );
    expect(failing).toBe(1);
    expect(err.join("")).toMatch(/tool failtool@1\.0\.0: failed/);
    expect(err.join("")).toMatch(/is failed: tool failtool@1\.0\.0 failed/);
  }, 240_000);
});
