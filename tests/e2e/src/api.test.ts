import { randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { EGRESS_NETWORK, unrestrictBridge } from "@aetherium/worker";
import { errorResponseSchema, executionSchema, vmSchema } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startAetherium, type StartedAetherium } from "./start-aetherium.js";

/*
 * The HTTP/WebSocket contract of spec/api.md against a real `aetherium start`: gateway, worker, the
 * worker's data plane and real Docker sandboxes, spoken to as any client would (fetch and ws).
 */

const run = promisify(execFile);
let app: StartedAetherium;
let vmId: string;
const created: string[] = [];
const egressPort = 41_000 + Math.floor(Math.random() * 9000);

async function api(
  method: string,
  route: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${app.url}/api/v1${route}`, {
    method,
    headers: {
      authorization: `Bearer ${app.apiKey}`,
      ...(body !== undefined && !(body instanceof Uint8Array)
        ? { "content-type": "application/json" }
        : {}),
      ...headers,
    },
    ...(body === undefined
      ? {}
      : { body: body instanceof Uint8Array ? body : JSON.stringify(body) }),
  });
  const type = res.headers.get("content-type") ?? "";
  const raw = new Uint8Array(await res.arrayBuffer());
  const json =
    type.includes("json") && raw.length > 0 ? JSON.parse(Buffer.from(raw).toString()) : null;
  return { status: res.status, json, raw };
}

/** Opens the exec WebSocket, sends `start`, and collects what comes back until `exit`. */
function execWs(start: Record<string, unknown>, after?: (ws: WebSocket) => void) {
  const ws = new WebSocket(`${app.url.replace("http", "ws")}/api/v1/vms/${vmId}/exec`, [
    "aetherium.v1",
    `bearer.${app.apiKey}`,
  ]);
  const out: Buffer[] = [];
  const messages: { type: string; [k: string]: unknown }[] = [];
  return new Promise<{ stdout: string; messages: typeof messages }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no exit: ${JSON.stringify(messages)}`)),
      20_000,
    );
    ws.on("open", () => {
      ws.send(JSON.stringify({ type: "start", ...start }));
      after?.(ws);
    });
    ws.on("message", (d: Buffer) => {
      const m = JSON.parse(d.toString()) as { type: string; data?: string };
      messages.push(m);
      if (m.type === "stdout" && m.data) out.push(Buffer.from(m.data, "base64"));
      if (m.type === "exit" || m.type === "error") {
        clearTimeout(timer);
        ws.close();
        resolve({ stdout: Buffer.concat(out).toString(), messages });
      }
    });
    ws.on("error", reject);
  });
}

beforeAll(async () => {
  app = await startAetherium({
    timeoutMs: 120_000,
    // Its own egress proxy port, so the allow-list test below never waits for another test
    // file's worker to hand the shared port over.
    env: { AETHERIUM_SANDBOX__EGRESS_PROXY_PORT: String(egressPort) },
  });
  if (!/sandboxes:\s+ready on docker/.test(app.stdout())) {
    throw new Error(`these tests need Docker and the base image:\n${app.stdout()}`);
  }
}, 150_000);

afterAll(async () => {
  for (const id of created) await api("DELETE", `/vms/${id}?wait=true`).catch(() => undefined);
  await app?.cleanup();
  await unrestrictBridge(EGRESS_NETWORK, egressPort);
}, 60_000);

describe("a sandbox through the public API", () => {
  it("creates with ?wait=true and answers 201 once it is running", async () => {
    const events: string[] = [];
    const ev = new WebSocket(`${app.url.replace("http", "ws")}/api/v1/events?topics=vm`, {
      headers: { authorization: `Bearer ${app.apiKey}` },
    });
    ev.on("message", (d: Buffer) =>
      events.push((JSON.parse(d.toString()) as { type: string }).type),
    );
    await new Promise((r) => ev.once("open", r));

    const name = `api-${randomBytes(3).toString("hex")}`;
    const r = await api("POST", "/vms?wait=true", {
      name,
      env: { GREETING: "hi" },
      labels: { suite: "api" },
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    const vm = vmSchema.parse(r.json.vm);
    vmId = vm.id;
    created.push(vm.id);
    expect(vm).toMatchObject({ name, status: "running", backend: "docker" });
    expect(vm.readyAt).not.toBeNull();
    expect(vm.env.GREETING).not.toBe("hi"); // values are hidden
    for (let i = 0; i < 50 && !events.includes("vm.running"); i++)
      await new Promise((s) => setTimeout(s, 20));
    expect(events).toEqual(expect.arrayContaining(["vm.created", "vm.running"]));
    ev.close();
  });

  it("runs a command and records it; a non-zero exit is a 200, not an error", async () => {
    const ok = await api("POST", `/vms/${vmId}/execute`, {
      command: 'echo "$GREETING from $(pwd)"',
    });
    expect(ok.status).toBe(200);
    const e = executionSchema.parse(ok.json.execution);
    expect(e).toMatchObject({ exitCode: 0, stdout: "hi from /\n", stdoutTruncated: false });

    const three = await api("POST", `/vms/${vmId}/execute`, { command: "echo oops >&2; exit 3" });
    expect(three.status).toBe(200);
    expect(three.json.execution).toMatchObject({ exitCode: 3, stderr: "oops\n" });

    const withArgs = await api("POST", `/vms/${vmId}/execute`, {
      command: "/bin/cat",
      args: [],
      stdin: "piped text",
      cwd: "/tmp",
      env: { X: "1" },
    });
    expect(withArgs.json.execution.stdout).toBe("piped text");

    // The answer does not wait for the row's completion write: a read right after it may come
    // a moment before that write lands.
    await expect
      .poll(
        async () => (await api("GET", `/executions/${three.json.execution.id}`)).json as unknown,
        {
          timeout: 5000,
        },
      )
      .toMatchObject({ execution: { exitCode: 3 } });
    const history = await api("GET", `/vms/${vmId}/executions?limit=2`);
    expect(history.json.items).toHaveLength(2);
    expect(history.json.nextCursor).not.toBeNull();
  });

  it("ends a command that does not exist with 127, as a shell does, direct or through the shell", async () => {
    for (const body of [{ command: "nosuchcmd", args: ["-v"] }, { command: "nosuchcmd -v" }]) {
      const r = await api("POST", `/vms/${vmId}/execute`, body);
      expect(r.status).toBe(200);
      expect(r.json.execution).toMatchObject({ exitCode: 127 });
      expect(r.json.execution.stderr).toMatch(/nosuchcmd: .*not found/);
    }
  });

  it("refuses a tool spec that is not one with a 400 that says why", async () => {
    const r = await api("POST", "/vms", { name: "with-tools", tools: ["node@20", "no good"] });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({
      code: "bad_request",
      message: expect.stringMatching(/tools\[1\]: must be a tool spec/),
    });
  });

  it("queues a command with ?async=true and its task finishes with the exit code", async () => {
    const r = await api("POST", `/vms/${vmId}/execute?async=true`, {
      command: "sleep 0.3; exit 5",
    });
    expect(r.status).toBe(202);
    // Its record is there from the first moment, not a 404 until a worker takes the job.
    const early = await api("GET", `/executions/${r.json.executionId}`);
    expect(early.status).toBe(200);
    expect(early.json.execution).toMatchObject({ command: "sleep 0.3; exit 5", completedAt: null });
    let task = (await api("GET", `/tasks/${r.json.taskId}`)).json.task;
    for (let i = 0; i < 100 && !["succeeded", "failed"].includes(task.status); i++) {
      await new Promise((s) => setTimeout(s, 50));
      task = (await api("GET", `/tasks/${r.json.taskId}`)).json.task;
    }
    expect(task.status).toBe("succeeded");
    expect(task.result).toMatchObject({ exitCode: 5, executionId: r.json.executionId });
    const done = await api("GET", `/executions/${r.json.executionId}`);
    expect(done.json.execution).toMatchObject({ exitCode: 5 });
    expect(done.json.execution.completedAt).not.toBeNull();
  });

  it("round-trips binary files, lists and removes them, and refuses '..'", async () => {
    const bytes = new Uint8Array(randomBytes(3 * 1024 * 1024 + 17));
    const put = await api("PUT", `/vms/${vmId}/files?path=/data/nested/blob.bin&mode=600`, bytes);
    expect(put.status).toBe(200);
    expect(put.json).toEqual({ path: "/data/nested/blob.bin", size: bytes.length });
    const get = await api("GET", `/vms/${vmId}/files?path=/data/nested/blob.bin`);
    expect(get.status).toBe(200);
    expect(Buffer.compare(Buffer.from(get.raw), Buffer.from(bytes))).toBe(0);
    const list = await api("GET", `/vms/${vmId}/files/list?path=/data/nested`);
    expect(list.json.entries).toEqual([
      expect.objectContaining({ name: "blob.bin", type: "file", size: bytes.length, mode: 0o600 }),
    ]);
    expect((await api("DELETE", `/vms/${vmId}/files?path=/data/nested/blob.bin`)).status).toBe(204);
    const gone = await api("GET", `/vms/${vmId}/files?path=/data/nested/blob.bin`);
    expect(gone.status).toBe(404);
    errorResponseSchema.parse(gone.json);
    const climb = await api("GET", `/vms/${vmId}/files?path=/data/../etc/shadow`);
    expect(climb.status).toBe(400);
    expect(climb.json.error.message).toMatch(/\.\./);
  });

  it("streams a command over the exec WebSocket with stdin and its exit code", async () => {
    const r = await execWs({ command: "read line; echo got:$line; exit 4" }, (ws) => {
      ws.send(JSON.stringify({ type: "stdin", data: Buffer.from("ping\n").toString("base64") }));
    });
    expect(r.messages[0]).toMatchObject({ type: "started" });
    expect(r.stdout).toBe("got:ping\n");
    expect(r.messages.at(-1)).toMatchObject({ type: "exit", exitCode: 4 });
  });

  it("gives a PTY session a terminal that resizes, and kills on signal", async () => {
    const tty = await execWs({ command: "tty; stty size", pty: { cols: 100, rows: 30 } });
    expect(tty.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(tty.stdout).toMatch(/30 100/);
    const killed = await execWs({ command: "sleep 30" }, (ws) => {
      setTimeout(() => ws.send(JSON.stringify({ type: "signal", signal: "SIGKILL" })), 300);
    });
    expect(killed.messages.at(-1)).toMatchObject({ type: "exit", exitCode: 137 });
  });

  it("answers a bad exec message with an error message, not a dropped socket", async () => {
    const r = await execWs({ command: "sleep 2" }, (ws) => {
      ws.send(JSON.stringify({ type: "resize", cols: -1 }));
      ws.send("{not json");
    });
    expect(r.messages.some((m) => m.type === "error")).toBe(true);
  });

  it("stops and starts with ?wait=true, and the sandbox still works", async () => {
    const stop = await api("POST", `/vms/${vmId}/stop?wait=true`);
    expect(stop.status).toBe(200);
    expect(stop.json.vm.status).toBe("stopped");
    const busy = await api("POST", `/vms/${vmId}/execute`, { command: "true" });
    expect(busy.status).toBe(409);
    const start = await api("POST", `/vms/${vmId}/start?wait=true`);
    expect(start.json.vm.status).toBe("running");
    const again = await api("POST", `/vms/${vmId}/execute`, { command: "echo back" });
    expect(again.json.execution.stdout).toBe("back\n");
  });

  it("enforces an egress allow-list: the sandbox goes out only through a proxy that refuses the rest", async () => {
    const allow = ["*.example.com", "192.0.2.0/24"];
    const r = await api("POST", "/vms?wait=true", {
      name: `egress-${randomBytes(3).toString("hex")}`,
      network: { egress: { allow } },
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    const id = vmSchema.parse(r.json.vm).id;
    created.push(id);
    expect(r.json.vm.network).toEqual({ egress: { allow } });
    // Refused by the proxy before any lookup or connection: nothing leaves this host.
    const e = await api("POST", `/vms/${id}/execute`, {
      command:
        "printenv HTTPS_PROXY; curl -sS -m 10 -D - -o /dev/null http://other.example.org/ | head -1; " +
        "curl -sS -m 10 http://198.51.100.7/",
    });
    expect(e.status).toBe(200);
    const out = e.json.execution.stdout as string;
    expect(out).toMatch(new RegExp(`^http://[0-9.]+:${egressPort}\n`));
    expect(out).toMatch(/HTTP\/1\.1 403/);
    expect(out).toContain("198.51.100.7 is not in the sandbox's egress allow-list");
    await api("DELETE", `/vms/${id}?wait=true`);
  });

  it("deletes with ?wait=true (204) and leaves no container behind", async () => {
    const r = await api("DELETE", `/vms/${vmId}?wait=true`);
    expect(r.status).toBe(204);
    expect((await api("GET", `/vms/${vmId}`)).json.vm.status).toBe("deleted");
    const { stdout } = await run("docker", [
      "ps",
      "-a",
      "-q",
      "--filter",
      `label=aetherium.sandbox-id=${vmId}`,
    ]);
    expect(stdout.trim()).toBe("");
    // Gone for commands: a deleted sandbox is no longer there to run them (its record stays readable).
    expect((await api("POST", `/vms/${vmId}/execute`, { command: "true" })).status).toBe(404);
  });
});
