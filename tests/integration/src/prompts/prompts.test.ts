import { randomBytes } from "node:crypto";
import { access, readFile } from "node:fs/promises";
import path from "node:path";
import { Writable } from "node:stream";
import { runAether } from "@aetherium/cli";
import { createLogger, loadConfig } from "@aetherium/common";
import { DataPlaneClient, Migrator, openDatabase, type ControlPlane } from "@aetherium/core";
import { buildServer, ensureBootstrapKey } from "@aetherium/gateway";
import {
  slackHeaders,
  startFakeSlackServer,
  useTestDatabase,
  useTestRedis,
  type FakeSlackServer,
} from "@aetherium/testing";
import type {
  DomainEvent,
  Prompt,
  SessionMessagesResponse,
  SessionServerMessage,
  Task,
} from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium } from "playwright-core";
import WebSocket from "ws";
import { waitFor } from "../fleet/fleet.js";
import { dockerSandboxesHere, startTestWorker, type TestWorker } from "../fixtures/test-worker.js";

// Prompts end to end on the distributed stack (PostgreSQL, Redis queue and bus, a worker with
// Docker): the gateway's routes and session WebSocket, the queue, the worker's runner, the guest
// agent, and a stand-in agent script inside a real sandbox.
const here = await dockerSandboxesHere();
if (!here.ok) console.warn(`skipping prompt tests: ${here.detail}`);

const db = useTestDatabase();
const redis = useTestRedis();
const SECRET = `tok-${randomBytes(12).toString("hex")}`;
const SLACK_SECRET = `slack-${randomBytes(12).toString("hex")}`;
const ENCRYPTION_KEY = randomBytes(32).toString("base64");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const DASHBOARD_DIR = path.resolve(import.meta.dirname, "../../../../services/dashboard/out");
const haveBrowser = await Promise.all([
  access(CHROMIUM),
  access(path.join(DASHBOARD_DIR, "index.html")),
]).then(
  () => true,
  () => false,
);

describe.skipIf(!here.ok)("prompts to a workspace's agent", () => {
  let fixture: TestWorker;
  let runtime: ControlPlane;
  let url: string;
  let admin: string;
  let close: () => Promise<void>;
  let vmId: string;
  let workspaceId: string;
  let slack: FakeSlackServer;
  const events: DomainEvent[] = [];
  const logs: string[] = [];

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
    return { status: res.status, text, body: text ? JSON.parse(text) : null };
  };
  const sandboxExec = (command: string, stdin?: string) =>
    fixture.sandboxes.managers
      .of("docker")!
      .exec(vmId, { command, user: "root", ...(stdin !== undefined ? { stdin } : {}) });
  const finished = (taskId: string): Promise<Task> =>
    waitFor(
      async () => {
        const t = await runtime.tasks.get(taskId);
        return ["succeeded", "failed", "cancelled"].includes(t.status) && t;
      },
      `task ${taskId}`,
      120_000,
    );
  const promptDone = (id: string): Promise<Prompt> =>
    waitFor(
      async () => {
        const r = await api("GET", `/api/v1/workspaces/${workspaceId}/prompts/${id}`);
        const p = r.body.prompt as Prompt;
        return ["completed", "failed", "cancelled"].includes(p.status) && p;
      },
      `prompt ${id}`,
      60_000,
    );

  beforeAll(async () => {
    const migrating = await openDatabase({ url: db.current.url });
    await new Migrator(migrating.db).up();
    await migrating.close();
    fixture = await startTestWorker("prompts", {
      AETHERIUM_DATABASE_URL: db.current.url,
      AETHERIUM_REDIS_URL: redis.current.url,
      AETHERIUM_REDIS__KEY_PREFIX: redis.current.prefix,
      AETHERIUM_ENCRYPTION_KEY: ENCRYPTION_KEY,
      AETHERIUM_WORKER_ID: `prompts-${randomBytes(4).toString("hex")}`,
    });
    runtime = fixture.runtime;
    runtime.bus.subscribe(["*"], (e) => void events.push(e));
    const logger = createLogger({
      service: "prompts-test",
      level: "debug",
      format: "json",
      destination: new Writable({
        write(chunk: Buffer, _enc, cb) {
          logs.push(chunk.toString("utf8"));
          cb();
        },
      }),
    });
    const dataPlane = new DataPlaneClient({ timeoutMs: 2000 });
    // Slack (a local server speaking its response_url format) can send prompts too.
    slack = await startFakeSlackServer(`xoxb-${randomBytes(6).toString("hex")}`);
    const { integrations } = loadConfig({
      env: { AETHERIUM_SLACK_SIGNING_SECRET: SLACK_SECRET },
      cwd: fixture.home,
    });
    const app = await buildServer({
      integrations,
      logger,
      runtime,
      dataPlane,
      health: () => Promise.resolve({ status: "ok", version: "test", components: {} }),
      waitTimeoutMs: 2000,
      dashboardDir: DASHBOARD_DIR,
    });
    url = (await app.listen({ host: "127.0.0.1", port: 0 })).replace("[::1]", "localhost");
    admin = (await ensureBootstrapKey(runtime.repos, { home: fixture.home })).secret;
    close = async () => {
      await app.close();
      dataPlane.close();
    };

    // The sandbox as the workspace's preparation leaves it: a working directory owned by the
    // agent user, the MCP config where the custom adapter points, and the agent program.
    const { vm, taskId } = await runtime.vms.create({ name: "prompts", memoryMb: 256 });
    vmId = vm.id;
    expect((await finished(taskId)).status).toBe("succeeded");
    const script = await readFile(path.join(import.meta.dirname, "stand-in-agent.sh"), "utf8");
    expect(
      (
        await sandboxExec(
          "cat > /usr/local/bin/stand-in-agent && chmod 755 /usr/local/bin/stand-in-agent",
          script,
        )
      ).exitCode,
    ).toBe(0);
    const mcp = JSON.stringify({ mcpServers: { files: { type: "stdio", command: "mcp-files" } } });
    expect(
      (
        await sandboxExec(
          "mkdir -p /workspace /home/user/.config/aether && cat > /home/user/.config/aether/mcp.json && chown -R user:user /workspace /home/user/.config",
          mcp,
        )
      ).exitCode,
    ).toBe(0);

    const kdb = runtime.db.db;
    const ws = await kdb
      .insertInto("workspaces")
      .values({
        name: "agent-ws",
        vmId,
        status: "ready",
        aiAssistant: "custom",
        aiAssistantConfig: JSON.stringify({ command: "stand-in-agent" }),
        workingDirectory: "/workspace",
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    workspaceId = ws.id;
    await runtime.secrets.set(
      { tenant: "default", workspaceId },
      { name: "API_TOKEN", value: SECRET },
    );
  }, 300_000);

  afterAll(async () => {
    await close?.();
    await slack?.close();
    await fixture?.close();
  }, 60_000);

  it("streams a prompt's answer over the session WebSocket and stores its result and history", async () => {
    const socket = new WebSocket(
      `${url.replace("http", "ws")}/api/v1/workspaces/${workspaceId}/ws`,
      {
        headers: { authorization: `Bearer ${admin}` },
      },
    );
    const got: { at: number; msg: SessionServerMessage }[] = [];
    const response = new Promise<Prompt>((resolve, reject) => {
      socket.on("message", (data: Buffer) => {
        const msg = JSON.parse(data.toString("utf8")) as SessionServerMessage;
        got.push({ at: Date.now(), msg });
        if (msg.type === "response") resolve(msg.prompt);
      });
      socket.on("error", reject);
      setTimeout(() => reject(new Error("no response within 60 s")), 60_000).unref();
    });
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send(JSON.stringify({ type: "ping" }));
    socket.send(JSON.stringify({ type: "prompt", prompt: "   " }));
    socket.send(
      JSON.stringify({
        type: "prompt",
        prompt: "say hello",
        env: { STEPS: "3", STEP_SEC: "1", EXIT_CODE: "3" },
      }),
    );
    const prompt = await response;
    socket.close();

    const types = got.map((g) => g.msg.type);
    expect(got[0]!.msg).toMatchObject({ type: "status", workspaceStatus: "ready" });
    expect(types).toContain("pong");
    expect(got.find((g) => g.msg.type === "error")!.msg).toMatchObject({
      code: "bad_request",
      message: expect.stringContaining("prompt is required"),
    });
    const statuses = got.flatMap((g) =>
      g.msg.type === "status" && g.msg.promptId ? [g.msg.promptStatus] : [],
    );
    expect(statuses).toEqual(["pending", "running"]);
    // The answer arrived in pieces over the run, before the final response.
    const chunks = got.filter((g) => g.msg.type === "chunk");
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    expect(chunks.at(-1)!.at - chunks[0]!.at).toBeGreaterThanOrEqual(1500);
    const text = (stream: string) =>
      chunks
        .map((g) => g.msg)
        .filter(
          (m): m is Extract<SessionServerMessage, { type: "chunk" }> =>
            m.type === "chunk" && m.stream === stream,
        )
        .map((m) => m.text)
        .join("");
    const stdout = text("stdout");
    expect(stdout).toContain("whoami: user\n");
    expect(stdout).toContain("cwd: /workspace\n");
    expect(stdout).toContain("prompt(stdin): say hello\n");
    expect(stdout).toContain("prompt(env): say hello\n");
    expect(stdout).toContain(
      'mcp: {"mcpServers":{"files":{"type":"stdio","command":"mcp-files"}}}',
    );
    expect(stdout).toContain("step 2\n");
    // The secret reached the agent's environment and was redacted, encoded forms included.
    expect(stdout).toContain("secret: [redacted]\n");
    expect(stdout).toContain("secret-b64: [redacted]\n");
    expect(text("stderr")).toBe("done with [redacted]\n");

    expect(prompt).toMatchObject({ status: "failed", exitCode: 3, stdout, source: "session" });
    expect(prompt.durationMs).toBeGreaterThanOrEqual(3000);
    const stored = await api("GET", `/api/v1/workspaces/${workspaceId}/prompts/${prompt.id}`);
    expect(stored.body.prompt).toMatchObject({
      status: "failed",
      exitCode: 3,
      stdout,
      stderr: "done with [redacted]\n",
    });

    const sessions = await api("GET", `/api/v1/workspaces/${workspaceId}/sessions`);
    const sessionId = (got[0]!.msg as { sessionId: string }).sessionId;
    expect(sessions.body.items[0]).toMatchObject({ id: sessionId });
    const history = await waitFor(
      async () => {
        const h = await api("GET", `/api/v1/workspaces/${workspaceId}/sessions/${sessionId}`);
        const body = h.body as SessionMessagesResponse;
        return body.messages.length >= 3 && body;
      },
      "the session history",
      10_000,
    );
    expect(history.messages.map((m) => m.type)).toEqual(["error", "prompt", "response"]);
    expect(history.messages[2]).toMatchObject({ promptId: prompt.id, exitCode: 3 });
    expect(history.messages[2]!.content).toContain("secret: [redacted]");

    // The secret is nowhere a user or operator can read it: API answers, events, logs, the disk.
    const answers = [
      stored.text,
      (await api("GET", `/api/v1/workspaces/${workspaceId}/prompts`)).text,
      (await api("GET", `/api/v1/tasks/${prompt.taskId}`)).text,
      JSON.stringify(history),
    ];
    for (const a of answers) expect(a).not.toContain(SECRET);
    expect(events.some((e) => e.type === "prompt.output")).toBe(true);
    expect(JSON.stringify(events)).not.toContain(SECRET);
    expect(logs.join("")).not.toContain(SECRET);
    const onDisk = await sandboxExec(
      `grep -rls -- '${SECRET}' /home /workspace /tmp /etc /usr/local /var 2>/dev/null; true`,
    );
    expect(onDisk.stdout).toBe("");
  }, 90_000);

  it("runs one prompt at a time in queue order, shows positions, and cancels queued and running prompts", async () => {
    const submit = async (env: Record<string, string>, extra: Record<string, unknown> = {}) => {
      const r = await api("POST", `/api/v1/workspaces/${workspaceId}/prompts`, {
        prompt: "work",
        env,
        ...extra,
      });
      expect(r.status).toBe(202);
      return r.body.prompt as Prompt;
    };
    const first = await submit({ STEPS: "30", STEP_SEC: "1" });
    const second = await submit({ STEPS: "1" });
    const third = await submit({ STEPS: "1" });
    const fourth = await submit({ STEPS: "1" });
    // Each answer says where the prompt waits (the first may or may not have started yet).
    expect(fourth.position! - third.position!).toBe(1);
    expect(third.position! - second.position!).toBe(1);
    await waitFor(
      async () =>
        (await api("GET", `/api/v1/workspaces/${workspaceId}/prompts/${first.id}`)).body.prompt
          .status === "running",
      "the first prompt to run",
      30_000,
    );
    const listed = (await api("GET", `/api/v1/workspaces/${workspaceId}/prompts?status=pending`))
      .body.items as Prompt[];
    expect(listed.map((p) => [p.id, p.position])).toEqual([
      [fourth.id, 3],
      [third.id, 2],
      [second.id, 1],
    ]);

    // A queued prompt is taken out of the queue; the ones behind move up.
    const cancelledQueued = await api(
      "POST",
      `/api/v1/workspaces/${workspaceId}/prompts/${second.id}/cancel`,
    );
    expect(cancelledQueued.body.prompt).toMatchObject({ status: "cancelled", startedAt: null });
    expect(
      (await api("GET", `/api/v1/workspaces/${workspaceId}/prompts/${third.id}`)).body.prompt
        .position,
    ).toBe(1);

    // A running prompt's agent is killed, and the next prompt starts.
    const running = await api(
      "POST",
      `/api/v1/workspaces/${workspaceId}/prompts/${first.id}/cancel`,
    );
    expect(running.status).toBe(200);
    const firstDone = await promptDone(first.id);
    expect(firstDone.status).toBe("cancelled");
    expect(firstDone.stdout).toContain("step 0");
    expect(firstDone.stdout).not.toContain("step 29");
    const thirdDone = await promptDone(third.id);
    const fourthDone = await promptDone(fourth.id);
    expect([thirdDone.status, fourthDone.status]).toEqual(["completed", "completed"]);
    expect(Date.parse(thirdDone.startedAt!)).toBeGreaterThanOrEqual(
      Date.parse(firstDone.completedAt!),
    );
    expect(Date.parse(fourthDone.startedAt!)).toBeGreaterThanOrEqual(
      Date.parse(thirdDone.completedAt!),
    );
    expect(
      (await api("GET", `/api/v1/workspaces/${workspaceId}/prompts/${second.id}`)).body.prompt
        .startedAt,
    ).toBeNull();
    const left = await sandboxExec("pgrep -f '[s]tand-in-agent' || true");
    expect(left.stdout).toBe("");

    // Finished prompts cannot be cancelled; mistakes are 4xx.
    expect(
      (await api("POST", `/api/v1/workspaces/${workspaceId}/prompts/${third.id}/cancel`)).status,
    ).toBe(409);
    expect(
      (await api("POST", `/api/v1/workspaces/${workspaceId}/prompts`, { prompt: "x", nope: 1 }))
        .status,
    ).toBe(400);
    expect(
      (
        await api("POST", `/api/v1/workspaces/${workspaceId}/prompts`, {
          prompt: "x",
          env: { "1BAD": "v" },
        })
      ).status,
    ).toBe(400);
    expect(
      (await api("POST", `/api/v1/workspaces/${crypto.randomUUID()}/prompts`, { prompt: "x" }))
        .status,
    ).toBe(404);
  }, 120_000);

  it("streams the answer through `aether prompt`, which exits with the agent's exit code", async () => {
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
      ["--url", url, "--api-key", admin, "prompt", workspaceId, "hello", "there"].concat([
        "--env",
        "EXIT_CODE=4",
        "--env",
        "STEPS=1",
      ]),
      io,
    );
    expect(code).toBe(4);
    expect(out.join("")).toContain("prompt(stdin): hello there\n");
    expect(out.join("")).toContain("secret: [redacted]\n");
    expect(err.join("")).toContain("done with [redacted]\n");
    expect(err.join("")).toContain("the agent exited with code 4");
    expect(out.join("") + err.join("")).not.toContain(SECRET);
  }, 60_000);

  it.skipIf(!haveBrowser)(
    "sends a prompt from the dashboard's Prompts page and streams the answer into its terminal",
    async () => {
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
      });
      try {
        const page = await (
          await browser.newContext({ viewport: { width: 1280, height: 900 } })
        ).newPage();
        const problems: string[] = [];
        page.on("pageerror", (e) => problems.push(e.message));
        await page.goto(`${url}/`);
        await page.getByLabel("API key", { exact: true }).fill(admin);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByRole("heading", { name: "Overview" }).waitFor();
        await page.goto(`${url}/prompts/?workspace=${workspaceId}`);
        await page.getByRole("heading", { name: "Prompts", exact: true }).waitFor();
        await page.getByLabel("Prompt", { exact: true }).fill("from the browser");
        await page.getByRole("button", { name: "Send prompt" }).click();
        const terminal = page.getByRole("log", { name: "Agent output" });
        // The prompt may wait its turn behind an earlier test's prompt on a loaded machine.
        await expect
          .poll(() => terminal.textContent(), { timeout: 90_000 })
          .toContain("prompt(stdin): from the browser");
        await expect
          .poll(() => page.getByTestId("prompt-state").textContent(), { timeout: 30_000 })
          .toMatch(/^completed · exit 0 · \d+\.\d s$/);
        const shown = (await terminal.textContent()) ?? "";
        expect(shown).toContain("whoami: user");
        expect(shown).toContain("step 1");
        expect(shown).toContain("secret: [redacted]");
        expect(shown).not.toContain(SECRET);
        const history = page.getByRole("table", { name: "Prompts" });
        await expect
          .poll(() => history.locator("tbody tr").first().textContent(), { timeout: 10_000 })
          .toContain("from the browser");
        expect(problems).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    180_000,
  );

  it("takes a prompt from a signed Slack command and posts the agent's answer, redacted, to its response_url", async () => {
    const responseUrl = slack.responseUrl();
    const body = new URLSearchParams({
      command: "/aether",
      text: `prompt ${workspaceId} from slack`,
      response_url: responseUrl,
      trigger_id: `${Date.now()}.${randomBytes(4).toString("hex")}`,
    }).toString();
    const res = await fetch(`${url}/api/v1/integrations/slack/commands`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...slackHeaders(SLACK_SECRET, body),
      },
      body,
    });
    expect(res.status).toBe(200);
    const result = await slack.waitFor((r) => r.path === new URL(responseUrl).pathname, 120_000);
    const text = String((result.body as { text: string }).text);
    expect(text).toMatch(/finished with 0/);
    expect(text).toContain("secret: [redacted]");
    expect(text).toContain("from slack");
    expect(text).not.toContain(SECRET);
    const listed = await api("GET", `/api/v1/workspaces/${workspaceId}/prompts?limit=50`);
    const fromSlack = (listed.body.items as Prompt[]).find((p) => p.prompt === "from slack");
    expect(fromSlack).toMatchObject({ source: "integration", status: "completed", exitCode: 0 });
  }, 180_000);

  it("lets a prompt run past 60 s and answers ?wait=true when it is done", async () => {
    const r = await api("POST", `/api/v1/workspaces/${workspaceId}/prompts?wait=true`, {
      prompt: "a long task",
      env: { STEPS: "13", STEP_SEC: "5" },
    });
    expect(r.status).toBe(200);
    expect(r.body.prompt).toMatchObject({ status: "completed", exitCode: 0, error: null });
    expect(r.body.prompt.durationMs).toBeGreaterThanOrEqual(65_000);
    expect(r.body.prompt.stdout).toContain("step 12\n");
  }, 150_000);
});
