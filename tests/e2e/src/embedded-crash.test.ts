import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { detectBackends, DockerBackend } from "@aetherium/worker";
import { afterAll, describe, expect, it } from "vitest";
import { startAetherium, type StartedAetherium } from "./start-aetherium.js";

/*
 * `aetherium start` (PGlite + the in-process queue) killed with SIGKILL mid-work and started again
 * on the same home: nothing it had accepted may stay queued or running forever.
 */

const run = promisify(execFile);
const docker = (await detectBackends()).find((b) => b.backend === "docker");
const canRun = docker?.available === true && process.getuid?.() === 0;
if (!canRun) console.warn(`skipping the embedded crash test: needs root and dockerd`);

const workerId = `e2e-crash-${randomBytes(4).toString("hex")}`;
let home: string | undefined;
const apps: StartedAetherium[] = [];

async function start(): Promise<{ app: StartedAetherium; key: string }> {
  const app = await startAetherium({
    // Room for every sandbox of the test whatever this host's core count (admission is not
    // what is tested here).
    env: {
      AETHERIUM_HOME: home!,
      AETHERIUM_WORKER_ID: workerId,
      AETHERIUM_WORKER__CAPACITY__VCPUS: "16",
      AETHERIUM_WORKER__CAPACITY__MEMORY_MB: "16384",
    },
    timeoutMs: 120_000,
  });
  apps.push(app);
  const key = (await readFile(path.join(home!, "admin.key"), "utf8")).trim();
  return { app, key };
}

async function api(
  target: { app: StartedAetherium; key: string },
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${target.app.url}/api/v1${route}`, {
    method,
    headers: {
      authorization: `Bearer ${target.key}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Polls `fn` every 250 ms until it returns a truthy value or `timeoutMs` passes. */
async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false>,
  what: string,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last: ${String(value)}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

const containers = async () =>
  (await run("docker", ["ps", "-aq", "--filter", `label=aetherium.worker-id=${workerId}`])).stdout
    .split("\n")
    .filter(Boolean);

afterAll(async () => {
  for (const app of apps) await app.cleanup();
  // Through the backend, not `docker rm`: each sandbox also holds a run directory (a tmpfs
  // mount) on the host, which only the backend's remove takes away.
  if (canRun) {
    const backend = new DockerBackend();
    for (const s of await backend.list({ workerId })) await backend.remove(s.sandboxId);
  }
  if (home) await rm(path.dirname(home), { recursive: true, force: true });
}, 120_000);

describe.skipIf(!canRun)("aetherium start after a SIGKILL", () => {
  it("settles every task the dead process left and keeps the output its command had printed", async () => {
    home = path.join(await mkdtemp(path.join(tmpdir(), "aet-crash-")), ".aetherium");
    const first = await start();
    const made = await api(first, "POST", "/vms?wait=true", { name: "keeps-running" });
    expect(made.status).toBe(201);
    const vmId = (made.body.vm as { id: string }).id;
    const exec = await api(first, "POST", `/vms/${vmId}/execute?async=true`, {
      command: "echo printed-before-the-crash; sleep 300",
    });
    expect(exec.status).toBe(202);
    const { executionId, taskId: execTaskId } = exec.body as {
      executionId: string;
      taskId: string;
    };
    // Output is stored while the command runs, not only when it ends.
    await waitFor(
      async () => {
        const r = await api(first, "GET", `/executions/${executionId}`);
        return String((r.body.execution as { stdout?: string } | undefined)?.stdout ?? "").includes(
          "printed-before-the-crash",
        );
      },
      "the running command's output to be stored",
      30_000,
    );
    const creates: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await api(first, "POST", "/vms", { name: `crash-${i}`, memoryMb: 256 });
      expect(r.status).toBe(202);
      creates.push(r.body.taskId as string);
    }
    expect(await first.app.stop("SIGKILL")).toBeNull();

    const second = await start();
    let statuses = "";
    const task = async (id: string) =>
      (await api(second, "GET", `/tasks/${id}`)).body.task as {
        status: string;
        error: string | null;
      };
    const finished = await waitFor(
      async () => {
        const all = await Promise.all([...creates, execTaskId].map(task));
        const done = all.every((t) => ["succeeded", "failed", "cancelled"].includes(t.status));
        statuses = all.map((t) => t.status).join(",");
        return done && all;
      },
      "every task of the dead process to finish",
      180_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message} (tasks: ${statuses})\n${second.app.stdout()}`);
    });
    // Creates are safe to repeat: all four are built. The command is not: it failed, saying why.
    expect(finished.slice(0, 4).map((t) => t.status)).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
    expect(finished[4]).toMatchObject({ status: "failed" });
    expect(finished[4]!.error).toMatch(/stopped before it finished/);
    const execution = (await api(second, "GET", `/executions/${executionId}`)).body.execution as {
      stdout: string;
      error: string | null;
      completedAt: string | null;
    };
    expect(execution.stdout).toContain("printed-before-the-crash");
    expect(execution.error).toMatch(/stopped before the command finished/);
    expect(execution.completedAt).not.toBeNull();

    // Every container on the host is one the platform knows as running: none runs unknown.
    const list = (await api(second, "GET", "/vms?limit=100")).body.items as {
      id: string;
      status: string;
    }[];
    const running = list.filter((v) => v.status === "running").map((v) => v.id);
    expect(running).toHaveLength(5);
    expect((await containers()).length).toBe(5);
  }, 420_000);
});
