import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { DEFAULT_BASE_IMAGE, Migrator, openDatabase, type ControlPlane } from "@aetherium/core";
import {
  buildFakeMisePluginImage,
  FAKE_TOOL_FAILURE,
  OFFLINE_MISE_ENV,
  useTestDatabase,
  useTestRedis,
} from "@aetherium/testing";
import type { DomainEvent, Prompt, Workspace } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../fleet/fleet.js";
import { startTestGateway } from "../fixtures/test-gateway.js";
import { dockerSandboxesHere, startTestWorker, type TestWorker } from "../fixtures/test-worker.js";
import { startGitHost, type GitHost } from "./git-host.js";

// Workspaces end to end on the distributed stack (PostgreSQL, Redis queue and bus, a worker with
// Docker): the gateway's routes, the `workspace:create` job preparing a real sandbox (a clone
// from a git host in a network namespace, setup steps, the MCP config), idle stop and resume by
// a prompt, and deletion.
const here = await dockerSandboxesHere();
if (!here.ok) console.warn(`skipping workspace tests: ${here.detail}`);

const db = useTestDatabase();
const redis = useTestRedis();
const TOKEN = `ghp-${randomBytes(12).toString("hex")}`;
const ENCRYPTION_KEY = randomBytes(32).toString("base64");
// The sandbox image with local mise plugins linked for `user`, so tools install offline.
const TOOLS_IMAGE = `aetherium/workspace-tools:${randomBytes(4).toString("hex")}`;

describe.skipIf(!here.ok)("workspaces", () => {
  let fixture: TestWorker;
  let runtime: ControlPlane;
  let git: GitHost;
  let url: string;
  let admin: string;
  let close: () => Promise<void>;
  const events: DomainEvent[] = [];
  const answers: string[] = [];

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
    answers.push(text);
    return { status: res.status, text, body: text ? JSON.parse(text) : null };
  };
  const inSandbox = async (vmId: string, command: string, user = "root") => {
    const r = await fixture.sandboxes.managers.of("docker")!.exec(vmId, { command, user });
    return { exitCode: r.exitCode, out: (r.stdout ?? "") + (r.stderr ?? "") };
  };
  const vmStatus = async (vmId: string) => (await runtime.vms.get(vmId)).status;

  beforeAll(async () => {
    const migrating = await openDatabase({ url: db.current.url });
    await new Migrator(migrating.db).up();
    await migrating.close();
    git = await startGitHost(TOKEN, "dev", {
      "README.md": "hello from the repository\n",
    });
    fixture = await startTestWorker("workspaces", {
      AETHERIUM_DATABASE_URL: db.current.url,
      AETHERIUM_REDIS_URL: redis.current.url,
      AETHERIUM_REDIS__KEY_PREFIX: redis.current.prefix,
      AETHERIUM_ENCRYPTION_KEY: ENCRYPTION_KEY,
      AETHERIUM_WORKER_ID: `ws-${randomBytes(4).toString("hex")}`,
    });
    runtime = fixture.runtime;
    await buildFakeMisePluginImage(DEFAULT_BASE_IMAGE, TOOLS_IMAGE, [
      { name: "faketool" },
      { name: "failtool", behaviour: "fail" },
    ]);
    runtime.bus.subscribe(["*"], (e) => void events.push(e));
    const gateway = await startTestGateway(fixture, "workspaces-test", { waitTimeoutMs: 60_000 });
    ({ url, admin } = gateway);
    close = () => gateway.close();
  }, 300_000);

  afterAll(async () => {
    await close?.();
    await fixture?.close();
    await git?.close();
    await promisify(execFile)("docker", ["rmi", "--force", TOOLS_IMAGE]).catch(() => undefined);
  }, 60_000);

  it("refuses bad bodies with 400s naming the fields, and an unknown environment", async () => {
    const empty = await api("POST", "/api/v1/workspaces", {});
    expect(empty.status).toBe(400);
    const paths = (empty.body.error.details as { path: string }[]).map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(["name", "environment"]));
    const extra = await api("POST", "/api/v1/workspaces", {
      name: "x",
      environment: "e",
      bogus: 1,
    });
    expect(extra.status).toBe(400);
    expect(extra.text).toContain("bogus");
    const unknown = await api("POST", "/api/v1/workspaces", { name: "x", environment: "nope" });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details).toEqual([
      { path: "environment", message: 'no environment "nope"' },
    ]);
    expect((await api("GET", "/api/v1/workspaces/nope")).status).toBe(404);
    expect((await api("DELETE", "/api/v1/workspaces/nope")).status).toBe(404);
    expect((await api("GET", "/api/v1/workspaces?status=bogus")).status).toBe(400);
  });

  let ws: Workspace;

  it("prepares a workspace: clone with a token never on disk, setup steps in order, MCP config", async () => {
    const env = await api("POST", "/api/v1/environments", {
      name: "app",
      vcpus: 1,
      memoryMb: 256,
      repo: { url: git.url, branch: "dev", dir: "/workspace/app", tokenSecret: "GIT_TOKEN" },
      secrets: ["GIT_TOKEN"],
      env: { GREETING: "hi" },
      setup: [
        { type: "script", run: 'echo "step one in $(pwd) as $(whoami): $GREETING"; ls' },
        { type: "env", name: "FOO", value: "bar" },
        {
          type: "script",
          run: 'echo "foo=$FOO token=$GIT_TOKEN"; echo made-before-idle > marker.txt',
        },
      ],
      mcpServers: [
        {
          name: "files",
          type: "stdio",
          command: "mcp-files",
          args: ["--greet", "${GREETING}"],
          env: { AUTH: "${GIT_TOKEN}" },
        },
      ],
      agent: {
        type: "custom",
        command:
          'echo "cwd=$(pwd) foo=$FOO greeting=$GREETING"; cat marker.txt; cat "$AETHER_MCP_CONFIG"',
      },
    });
    expect(env.status).toBe(201);
    // The repository's token must be given (or global): a 400 naming secrets otherwise.
    const noToken = await api("POST", "/api/v1/workspaces", { name: "w0", environment: "app" });
    expect(noToken.status).toBe(400);
    expect(noToken.text).toContain("GIT_TOKEN");

    const created = await api("POST", "/api/v1/workspaces?wait=true", {
      name: "main-ws",
      environment: "app",
      secrets: [{ name: "GIT_TOKEN", value: TOKEN }],
    });
    expect(created.status, created.text).toBe(201);
    ws = created.body.workspace as Workspace;
    expect(ws).toMatchObject({ status: "ready", failedStep: null, error: null });
    expect(ws.workingDirectory).toBe("/workspace/app");
    expect(ws.prepSteps.map((s) => [s.name, s.type, s.status, s.exitCode])).toEqual([
      ["clone", "clone", "succeeded", 0],
      ["setup 1", "script", "succeeded", 0],
      ["setup 2", "env", "succeeded", 0],
      ["setup 3", "script", "succeeded", 0],
      ["mcp", "mcp", "succeeded", 0],
    ]);
    const [clone, one, , three, mcp] = ws.prepSteps;
    expect(clone!.output).toContain("cloned:");
    expect(one!.output).toContain("step one in /workspace/app as user: hi");
    expect(one!.output).toContain("README.md");
    // Steps ran one after another, each recorded with its duration.
    expect(Date.parse(one!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(clone!.completedAt!));
    expect(three!.durationMs).toBeGreaterThanOrEqual(0);
    expect(three!.output).toContain("foo=bar token=[redacted]");
    expect(mcp!.output).toContain("/home/user/.config/aether/mcp.json");
    // The git host was asked with the token (a 401 first, then the credential helper).
    expect((await git.log()).some((l) => l.startsWith("200 /repo.git/info/refs"))).toBe(true);

    const vmId = ws.vmId!;
    const repo = await inSandbox(
      vmId,
      "cat /workspace/app/README.md; stat -c %U /workspace/app/README.md; git -C /workspace/app rev-parse --abbrev-ref HEAD",
      "user",
    );
    expect(repo.out).toBe("hello from the repository\nuser\ndev\n");
    // The token is nowhere on the sandbox's disk: not in .git/config, not in any file.
    const onDisk = await inSandbox(
      vmId,
      `grep -rl "${TOKEN}" /workspace /home /tmp /etc /root 2>/dev/null; echo "exit=$?"`,
    );
    expect(onDisk.out.trim()).toBe("exit=1");
    expect((await inSandbox(vmId, "cat /workspace/app/.git/config")).out).not.toContain(
      "credential",
    );
    // The MCP config: plain variables expanded, the secret left for the agent to expand.
    const config = JSON.parse(
      (await inSandbox(vmId, "cat /home/user/.config/aether/mcp.json", "user")).out,
    );
    expect(config).toEqual({
      mcpServers: {
        files: {
          type: "stdio",
          command: "mcp-files",
          args: ["--greet", "hi"],
          env: { AUTH: "${GIT_TOKEN}" },
        },
      },
    });
    // Each step was streamed as events; none carried the token.
    const stepEvents = events.filter(
      (e) => e.type === "workspace.step" && e.data.workspaceId === ws.id,
    );
    expect(stepEvents.length).toBeGreaterThanOrEqual(10);
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(["workspace.created", "workspace.preparing", "workspace.ready"]),
    );
    expect(JSON.stringify(events)).not.toContain(TOKEN);

    // By name too, and in the list.
    expect((await api("GET", "/api/v1/workspaces/main-ws")).body.workspace.id).toBe(ws.id);
    const list = await api("GET", "/api/v1/workspaces?status=ready");
    expect((list.body.items as Workspace[]).map((w) => w.name)).toContain("main-ws");
  }, 300_000);

  it("runs an interrupted preparation again without redoing finished steps or making a new sandbox", async () => {
    const before = (await api("GET", `/api/v1/workspaces/${ws.id}`)).body.workspace as Workspace;
    // As a worker dying during `setup 3` leaves it: preparing, that step running, mcp pending.
    const kdb = runtime.db.db;
    await kdb
      .updateTable("workspaces")
      .set({ status: "preparing" })
      .where("id", "=", ws.id)
      .execute();
    await kdb
      .updateTable("workspacePrepSteps")
      .set({ status: "running", completedAt: null })
      .where("workspaceId", "=", ws.id)
      .where("name", "=", "setup 3")
      .execute();
    await kdb
      .updateTable("workspacePrepSteps")
      .set({ status: "pending", startedAt: null, completedAt: null })
      .where("workspaceId", "=", ws.id)
      .where("name", "=", "mcp")
      .execute();
    const task = await runtime.tasks.submit(
      "workspace:create",
      { workspaceId: ws.id },
      { vmId: ws.vmId!, placement: { backend: "docker" } },
    );
    await waitFor(
      async () => (await runtime.tasks.get(task.id)).status === "succeeded",
      "the retried preparation",
      120_000,
    );
    const after = (await api("GET", `/api/v1/workspaces/${ws.id}`)).body.workspace as Workspace;
    expect(after).toMatchObject({ status: "ready", vmId: before.vmId });
    const started = (w: Workspace) => w.prepSteps.map((s) => [s.name, s.startedAt]);
    expect(started(after).slice(0, 3)).toEqual(started(before).slice(0, 3));
    for (const i of [3, 4]) {
      expect(after.prepSteps[i]!.status).toBe("succeeded");
      expect(Date.parse(after.prepSteps[i]!.startedAt!)).toBeGreaterThan(
        Date.parse(before.prepSteps[i]!.completedAt!),
      );
    }
    // Still one sandbox for the workspace: none was made (or left) by the retry.
    const sandboxes = await runtime.vms.list({ labels: { "aetherium.workspace": ws.id } });
    expect(
      sandboxes.items.filter((v) => v.status !== "deleted").map((v) => v.id),
      JSON.stringify(sandboxes.items.map((v) => [v.id, v.status, v.createdAt, v.workerId])),
    ).toEqual([before.vmId]);
  }, 300_000);

  it("fails a workspace at the failing setup step, with its output, and skips the rest", async () => {
    expect(
      (
        await api("POST", "/api/v1/environments", {
          name: "broken",
          vcpus: 1,
          memoryMb: 256,
          setup: [
            { type: "script", run: "echo fine" },
            { type: "script", run: "echo boom >&2; exit 7" },
            { type: "script", run: "echo never" },
          ],
          agent: { type: "custom", command: "true" },
        })
      ).status,
    ).toBe(201);
    const r = await api("POST", "/api/v1/workspaces?wait=true", {
      name: "broken-ws",
      environment: "broken",
    });
    const why =
      r.status === 202
        ? JSON.stringify({
            task: await runtime.tasks.get(r.body.taskId as string),
            vm: await runtime.vms.get(r.body.workspace.vmId as string),
          })
        : r.text;
    expect(r.status, why).toBe(201);
    const failed = r.body.workspace as Workspace;
    expect(failed.status).toBe("failed");
    expect(failed.failedStep).toBe("setup 2");
    expect(failed.error).toContain("setup 2 exited with code 7");
    expect(failed.error).toContain("boom");
    expect(failed.prepSteps.map((s) => [s.name, s.status, s.exitCode])).toEqual([
      ["setup 1", "succeeded", 0],
      ["setup 2", "failed", 7],
      ["setup 3", "skipped", null],
    ]);
    const prompt = await api("POST", `/api/v1/workspaces/${failed.id}/prompts`, { prompt: "x" });
    expect(prompt.status).toBe(409);
    // Deleting it removes its sandbox too.
    expect((await api("DELETE", `/api/v1/workspaces/broken-ws?wait=true`)).status).toBe(204);
    expect((await api("GET", `/api/v1/workspaces/${failed.id}`)).status).toBe(404);
    await waitFor(async () => (await vmStatus(failed.vmId!)) === "deleted", "sandbox deleted");
  }, 300_000);

  it("installs tools with mise as steps, and fails the workspace naming the tool that failed", async () => {
    expect(
      (
        await api("POST", "/api/v1/environments", {
          name: "tooled",
          image: TOOLS_IMAGE,
          vcpus: 1,
          memoryMb: 256,
          env: OFFLINE_MISE_ENV,
          tools: ["faketool@1.2.3", "failtool@1.0.0"],
          setup: [{ type: "script", run: "echo never" }],
          agent: { type: "custom", command: "true" },
        })
      ).status,
    ).toBe(201);
    const r = await api("POST", "/api/v1/workspaces?wait=true", {
      name: "tooled-ws",
      environment: "tooled",
    });
    expect(r.status, r.text).toBe(201);
    const w = r.body.workspace as Workspace;
    expect(w.prepSteps.map((s) => [s.name, s.type, s.status])).toEqual([
      ["tool faketool@1.2.3", "tool", "succeeded"],
      ["tool failtool@1.0.0", "tool", "failed"],
      ["setup 1", "script", "skipped"],
    ]);
    expect(w.prepSteps[0]!.output).toContain("installed: faketool@1.2.3 1.2.3");
    expect(w).toMatchObject({ status: "failed", failedStep: "tool failtool@1.0.0" });
    expect(w.error).toMatch(/^tool failtool@1\.0\.0 failed: /);
    expect(w.error).toContain(`${FAKE_TOOL_FAILURE} failtool`);
    // The installed tool is on the user's PATH for later commands (mise's shims).
    const ran = await inSandbox(
      w.vmId!,
      'PATH="$HOME/.local/share/mise/shims:$PATH" faketool',
      "user",
    );
    expect(ran.out).toContain("faketool 1.2.3");
    expect((await api("DELETE", `/api/v1/workspaces/${w.id}?wait=true`)).status).toBe(204);
  }, 300_000);

  it("stops an idle workspace's sandbox and a prompt resumes it with its files", async () => {
    // Its clocks (its last prompt, and the commands its preparation ran in the sandbox) are put
    // back past the timeout rather than waiting the minimum minute; the worker's reaper (every
    // 250 ms here) then stops it.
    const hourAgo = new Date(Date.now() - 3_600_000);
    await runtime.db.db
      .updateTable("executions")
      .set({ startedAt: hourAgo, completedAt: hourAgo })
      .where("vmId", "=", ws.vmId!)
      .execute();
    await runtime.db.db
      .updateTable("workspaces")
      .set({ idleSince: hourAgo })
      .where("id", "=", ws.id)
      .execute();
    await waitFor(
      async () =>
        (await api("GET", `/api/v1/workspaces/${ws.id}`)).body.workspace.status === "idle",
      "the workspace idle",
      30_000,
    );
    await waitFor(
      () => Promise.resolve(events.some((e) => e.type === "workspace.idle")),
      "workspace.idle",
    );
    await waitFor(async () => (await vmStatus(ws.vmId!)) === "stopped", "sandbox stopped", 60_000);

    const sent = await api("POST", `/api/v1/workspaces/${ws.id}/prompts?wait=true`, {
      prompt: "what is there?",
    });
    expect(sent.status, sent.text).toBe(200);
    const prompt = sent.body.prompt as Prompt;
    expect(prompt.status).toBe("completed");
    expect(prompt.stdout).toContain("cwd=/workspace/app foo=bar greeting=hi");
    expect(prompt.stdout).toContain("made-before-idle");
    expect(prompt.stdout).toContain('"AUTH": "${GIT_TOKEN}"');
    expect(await vmStatus(ws.vmId!)).toBe("running");
    const after = (await api("GET", `/api/v1/workspaces/${ws.id}`)).body.workspace as Workspace;
    expect(after.status).toBe("ready");
    expect(Date.parse(after.idleSince!)).toBeGreaterThan(Date.now() - 120_000);
    // The prompt reset its idle clock: nothing is due.
    expect(await runtime.workspaces.sweepIdle()).toEqual([]);

    // A command run in its sandbox counts as activity too: with the prompt clock put back past
    // the timeout, a recent exec keeps the sandbox running.
    const ran = await api("POST", `/api/v1/vms/${ws.vmId}/execute`, { command: "true" });
    expect(ran.status, ran.text).toBe(200);
    await runtime.db.db
      .updateTable("workspaces")
      .set({ idleSince: new Date(Date.now() - 3_600_000) })
      .where("id", "=", ws.id)
      .execute();
    expect(await runtime.workspaces.sweepIdle()).toEqual([]);
    await new Promise((r) => setTimeout(r, 1000)); // a few of the worker reaper's sweeps
    expect((await api("GET", `/api/v1/workspaces/${ws.id}`)).body.workspace.status).toBe("ready");
    expect(await vmStatus(ws.vmId!)).toBe("running");
    await runtime.workspaces.markActive(ws.id);
  }, 300_000);

  it("keeps secret values write-only on the workspace's secret routes", async () => {
    const value = `v-${randomBytes(8).toString("hex")}`;
    const set = await api("POST", `/api/v1/workspaces/${ws.id}/secrets`, {
      name: "EXTRA",
      value,
    });
    expect(set.status).toBe(201);
    expect(set.body.secret).toMatchObject({
      name: "EXTRA",
      workspaceId: ws.id,
      scope: "workspace",
    });
    const list = await api("GET", `/api/v1/workspaces/main-ws/secrets`);
    expect((list.body.items as { name: string }[]).map((s) => s.name)).toEqual([
      "EXTRA",
      "GIT_TOKEN",
    ]);
    const bad = await api("POST", `/api/v1/workspaces/${ws.id}/secrets`, { name: "1x", value });
    expect(bad.status).toBe(400);
    expect((await api("DELETE", `/api/v1/workspaces/${ws.id}/secrets/EXTRA`)).status).toBe(204);
    expect((await api("DELETE", `/api/v1/workspaces/${ws.id}/secrets/EXTRA`)).status).toBe(404);
    expect((await api("GET", `/api/v1/workspaces/nope/secrets`)).status).toBe(404);
    // Another tenant sees none of it.
    await expect(runtime.workspaces.listSecrets("other", ws.id)).rejects.toThrow(/not found/);
    const audit = await runtime.db.db
      .selectFrom("auditLog")
      .select(["action"])
      .where("resourceId", "=", ws.id)
      .execute();
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(["secret.set", "secret.deleted", "secret.used"]),
    );
    for (const text of answers) {
      expect(text).not.toContain(value);
      expect(text).not.toContain(TOKEN);
    }
  });

  it("keeps the workspace when its sandbox alone is deleted, then deletes it whole", async () => {
    const del = await api("DELETE", `/api/v1/vms/${ws.vmId}?wait=true`);
    expect([200, 202, 204]).toContain(del.status);
    await waitFor(async () => (await vmStatus(ws.vmId!)) === "deleted", "sandbox deleted", 60_000);
    const shown = (await api("GET", `/api/v1/workspaces/${ws.id}`)).body.workspace as Workspace;
    expect(shown.status).toBe("failed");
    expect(shown.error).toContain("is deleted");
    expect(shown.prepSteps).toHaveLength(5);
    const prompt = await api("POST", `/api/v1/workspaces/${ws.id}/prompts`, { prompt: "x" });
    expect(prompt.status).toBe(409);
    expect((await api("GET", `/api/v1/workspaces/${ws.id}/prompts`)).body.items).toHaveLength(1);

    expect((await api("DELETE", `/api/v1/workspaces/${ws.id}`)).status).toBe(204);
    expect((await api("GET", `/api/v1/workspaces/${ws.id}`)).status).toBe(404);
    const left = await Promise.all(
      (["workspacePrepSteps", "workspaceSecrets", "promptTasks"] as const).map((t) =>
        runtime.db.db.selectFrom(t).select("id").where("workspaceId", "=", ws.id).execute(),
      ),
    );
    expect(left.map((rows) => rows.length)).toEqual([0, 0, 0]);
    expect(events.some((e) => e.type === "workspace.deleted")).toBe(true);
  });
});
