import { describe, expect, it } from "vitest";
import { AetheriumClient } from "./client.js";
import { WorkspaceError } from "./workspaces-api.js";

// The workspaces namespace's own logic (request shapes, following preparation, failure) against
// a scripted fetch; the routes themselves are exercised against a real gateway elsewhere.
const step = (name: string, order: number, status: string, output = "") => ({
  id: `st-${order}`,
  type: order === 0 ? "clone" : "tool",
  name,
  order,
  status,
  exitCode: status === "failed" ? 1 : status === "succeeded" ? 0 : null,
  output,
  error: status === "failed" ? "exit 1" : null,
  startedAt: null,
  completedAt: null,
  durationMs: status === "succeeded" || status === "failed" ? 5 : null,
});

const ws = (over: Record<string, unknown> = {}) => ({
  id: "ws-1",
  name: "demo",
  description: "",
  environmentId: "env-1",
  vmId: null,
  status: "creating",
  agent: { type: "claude-code" },
  workingDirectory: "/workspace",
  idleTimeoutSec: 1800,
  prepSteps: [],
  createdAt: "2026-01-01T00:00:00.000Z",
  readyAt: null,
  stoppedAt: null,
  idleSince: null,
  error: null,
  failedStep: null,
  ...over,
});

function scripted(answers: Array<() => Response>) {
  const seen: { method: string; url: URL; body: unknown }[] = [];
  const client = new AetheriumClient({
    url: "http://gw.test",
    apiKey: "k",
    fetch: (input, init) => {
      seen.push({
        method: init?.method ?? "GET",
        url: new URL(input),
        body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined,
      });
      const next = answers.shift();
      if (!next) throw new Error("no more scripted answers");
      return Promise.resolve(next());
    },
  });
  return { client, seen };
}

describe("workspaces", () => {
  it("creates, then follows the steps and reports each change once", async () => {
    const { client, seen } = scripted([
      () => Response.json({ workspace: ws(), taskId: "t-1" }, { status: 202 }),
      () =>
        Response.json({
          workspace: ws({ status: "preparing", prepSteps: [step("clone", 0, "running")] }),
        }),
      () =>
        Response.json({
          workspace: ws({ status: "preparing", prepSteps: [step("clone", 0, "running")] }),
        }),
      () =>
        Response.json({
          workspace: ws({
            status: "ready",
            prepSteps: [step("clone", 0, "succeeded"), step("tool node@20", 1, "succeeded")],
          }),
        }),
    ]);
    const progress: string[] = [];
    const w = await client.workspaces.create(
      { name: "demo", environment: "web" },
      {
        wait: true,
        intervalMs: 1,
        // Scripted answers only: no event stream to follow.
        live: false,
        onProgress: (x) =>
          progress.push([x.status, ...x.prepSteps.map((s) => `${s.name}=${s.status}`)].join(" ")),
      },
    );
    expect(w.status).toBe("ready");
    expect(seen[0]).toMatchObject({ method: "POST", body: { name: "demo", environment: "web" } });
    // With a progress callback the SDK follows the steps itself rather than the gateway waiting.
    expect(seen[0]!.url.search).toBe("");
    expect(seen.slice(1).map((s) => s.url.pathname)).toEqual(
      Array(3).fill("/api/v1/workspaces/ws-1"),
    );
    expect(progress).toEqual([
      "preparing clone=running",
      "ready clone=succeeded tool node@20=succeeded",
    ]);
  });

  it("lets the gateway wait when nobody watches, and says which step failed", async () => {
    const failed = ws({
      status: "failed",
      failedStep: "tool node@20",
      error: "mise use -g node@20 exited 1",
      prepSteps: [
        step("clone", 0, "succeeded"),
        step("tool node@20", 1, "failed", "no such version"),
      ],
    });
    const { client, seen } = scripted([
      () => Response.json({ workspace: failed }, { status: 201 }),
      () => Response.json({ workspace: failed }),
    ]);
    const err = await client.workspaces
      .create({ name: "demo", environment: "web" }, { wait: true, live: false })
      .catch((e: unknown) => e);
    expect(seen[0]!.url.search).toBe("?wait=true");
    expect(err).toBeInstanceOf(WorkspaceError);
    expect((err as WorkspaceError).step).toBe("tool node@20");
    expect((err as Error).message).toBe(
      "workspace demo (ws-1) failed at step tool node@20: mise use -g node@20 exited 1",
    );
    expect((err as WorkspaceError).workspace.prepSteps[1]!.output).toBe("no such version");
  });

  it("lists with filters, orders steps, and manages the workspace's own secrets", async () => {
    const meta = {
      id: "sec-1",
      workspaceId: "ws-1",
      name: "TOKEN",
      type: "token",
      description: "",
      scope: "workspace",
      keyId: "k1",
      createdAt: "2026-01-01T00:00:00.000Z",
      updatedAt: "2026-01-01T00:00:00.000Z",
    };
    const { client, seen } = scripted([
      () => Response.json({ items: [ws()], nextCursor: null }),
      () =>
        Response.json({
          workspace: ws({ prepSteps: [step("tool b", 1, "pending"), step("clone", 0, "running")] }),
        }),
      () => Response.json({ secret: meta }, { status: 201 }),
      () => Response.json({ items: [meta] }),
      () => new Response(null, { status: 204 }),
      () => new Response(null, { status: 204 }),
    ]);
    const page = await client.workspaces.list({
      status: ["ready", "idle"],
      environmentId: "env-1",
    });
    expect(page.items).toHaveLength(1);
    expect(seen[0]!.url.searchParams.getAll("status")).toEqual(["ready", "idle"]);
    expect(seen[0]!.url.searchParams.get("environmentId")).toBe("env-1");
    expect((await client.workspaces.steps("ws-1")).map((s) => s.name)).toEqual(["clone", "tool b"]);
    await client.workspaces.setSecret("ws-1", { name: "TOKEN", value: "v", type: "token" });
    expect(seen[2]).toMatchObject({
      method: "POST",
      body: { name: "TOKEN", value: "v", type: "token" },
    });
    expect(seen[2]!.url.pathname).toBe("/api/v1/workspaces/ws-1/secrets");
    expect(await client.workspaces.listSecrets("ws-1")).toEqual([meta]);
    await client.workspaces.deleteSecret("ws-1", "TOKEN");
    expect(seen[4]).toMatchObject({ method: "DELETE" });
    expect(seen[4]!.url.pathname).toBe("/api/v1/workspaces/ws-1/secrets/TOKEN");
    await client.workspaces.delete("ws-1");
    expect(seen[5]!.url.pathname).toBe("/api/v1/workspaces/ws-1");
  });
});
