import type { Workspace } from "@aetherium/types";
import { describe, expect, it } from "vitest";
import { useGatewayFixture } from "../testing/gateway-fixture.js";

// No worker runs here: a workspace stays `creating` (its sandbox waits for a worker), which is
// what the routes' own behaviour needs. Preparation is tested end to end in
// tests/integration/src/workspaces/workspaces.test.ts.
const gw = useGatewayFixture();
const call = gw.call;
const SECRET = "tok-route-test-3f9a";

describe("workspaces", () => {
  it("creates from an environment by name, reads by id and name, lists and deletes", async () => {
    const env = await call("POST", "/api/v1/environments", {
      body: {
        name: "agent-env",
        repo: { url: "https://git.example.test/a.git", tokenSecret: "GIT_TOKEN" },
        secrets: ["GIT_TOKEN"],
        tools: ["node@20"],
        setup: [{ type: "script", run: "make" }],
        agent: { type: "amp" },
        idleTimeoutSec: 600,
      },
    });
    expect(env.status).toBe(201);
    const made = await call("POST", "/api/v1/workspaces", {
      body: {
        name: "ws-one",
        environment: "agent-env",
        description: "first",
        secrets: [{ name: "GIT_TOKEN", value: SECRET }],
      },
    });
    expect(made.status).toBe(202);
    const ws = made.body.workspace as Workspace;
    expect(ws).toMatchObject({
      name: "ws-one",
      description: "first",
      environmentId: env.body.environment.id,
      status: "creating",
      agent: { type: "amp" },
      idleTimeoutSec: 600,
      prepSteps: [],
      failedStep: null,
    });
    expect(made.body.taskId).toEqual(expect.any(String));
    const task = await call("GET", `/api/v1/tasks/${made.body.taskId}`);
    expect(task.body.task).toMatchObject({ type: "workspace:create", status: "queued" });
    // Its sandbox is recorded from the environment, tagged with the workspace.
    const vm = await call("GET", `/api/v1/vms/${ws.vmId}`);
    expect(vm.body.vm).toMatchObject({
      status: "pending",
      labels: { "aetherium.workspace": ws.id },
    });

    expect((await call("GET", `/api/v1/workspaces/${ws.id}`)).body.workspace.id).toBe(ws.id);
    expect((await call("GET", "/api/v1/workspaces/ws-one")).body.workspace.id).toBe(ws.id);
    const list = await call("GET", "/api/v1/workspaces?status=creating&status=ready");
    expect((list.body.items as Workspace[]).map((w) => w.name)).toEqual(["ws-one"]);
    expect((await call("GET", "/api/v1/workspaces?status=failed")).body.items).toEqual([]);
    const byEnv = await call("GET", `/api/v1/workspaces?environmentId=${env.body.environment.id}`);
    expect((byEnv.body.items as Workspace[]).map((w) => w.name)).toEqual(["ws-one"]);
    // An environment id that cannot be one matches nothing (not a 500 from the uuid column).
    const notAnId = await call("GET", "/api/v1/workspaces?environmentId=null");
    expect(notAnId.status).toBe(200);
    expect(notAnId.body.items).toEqual([]);
    const again = await call("POST", "/api/v1/workspaces", {
      body: {
        name: "ws-one",
        environment: "agent-env",
        secrets: [{ name: "GIT_TOKEN", value: "x" }],
      },
    });
    expect(again.status).toBe(409);

    // Nothing holds its sandbox yet: deleting is immediate, and its task is cancelled.
    expect((await call("DELETE", "/api/v1/workspaces/ws-one")).status).toBe(204);
    expect((await call("GET", `/api/v1/workspaces/${ws.id}`)).status).toBe(404);
    expect((await call("GET", `/api/v1/vms/${ws.vmId}`)).body.vm.status).toBe("deleted");
    const cancelled = await call("GET", `/api/v1/tasks/${made.body.taskId}`);
    expect(["cancelled", "cancelling"]).toContain(cancelled.body.task.status);
  });

  it("refuses bad input with 400s naming the field", async () => {
    const empty = await call("POST", "/api/v1/workspaces", { body: {} });
    expect(empty.status).toBe(400);
    expect((empty.body.error.details as { path: string }[]).map((d) => d.path)).toEqual(
      expect.arrayContaining(["name", "environment"]),
    );
    const unknown = await call("POST", "/api/v1/workspaces", {
      body: { name: "w", environment: "missing" },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details).toEqual([
      { path: "environment", message: 'no environment "missing"' },
    ]);
    await call("POST", "/api/v1/environments", {
      body: {
        name: "needs-token",
        repo: { url: "https://git.example.test/a.git", tokenSecret: "GIT_TOKEN" },
        secrets: ["GIT_TOKEN"],
        agent: { type: "amp" },
      },
    });
    const noToken = await call("POST", "/api/v1/workspaces", {
      body: { name: "w", environment: "needs-token" },
    });
    expect(noToken.status).toBe(400);
    expect(noToken.body.error.details).toEqual([
      { path: "secrets", message: 'missing "GIT_TOKEN" (repo.tokenSecret)' },
    ]);
    const badSecret = await call("POST", "/api/v1/workspaces", {
      body: { name: "w", environment: "needs-token", secrets: [{ name: "no-dash", value: "v" }] },
    });
    expect(badSecret.status).toBe(400);
    expect(JSON.stringify(badSecret.body)).not.toContain('"v"');
    expect((await call("GET", "/api/v1/workspaces?status=sleeping")).status).toBe(400);
    expect((await call("GET", "/api/v1/workspaces/missing")).status).toBe(404);
    expect((await call("DELETE", "/api/v1/workspaces/missing")).status).toBe(404);
  });

  it("keeps secret values write-only, audited, and needs write to change them", async () => {
    await call("POST", "/api/v1/environments", {
      body: { name: "plain", agent: { type: "custom", command: "true" } },
    });
    const ws = (
      await call("POST", "/api/v1/workspaces", { body: { name: "ws-sec", environment: "plain" } })
    ).body.workspace as Workspace;
    const set = await call("POST", "/api/v1/workspaces/ws-sec/secrets", {
      body: { name: "API_KEY", value: SECRET, type: "token" },
    });
    expect(set.status).toBe(201);
    expect(set.body.secret).toMatchObject({ name: "API_KEY", type: "token", scope: "workspace" });
    const list = await call("GET", `/api/v1/workspaces/${ws.id}/secrets`);
    expect((list.body.items as { name: string }[]).map((s) => s.name)).toEqual(["API_KEY"]);
    expect(JSON.stringify([set.body, list.body])).not.toContain(SECRET);

    const reader = await gw.key("ws-reader", ["read"]);
    expect((await call("GET", "/api/v1/workspaces", { key: reader.secret })).status).toBe(200);
    const denied = await call("POST", `/api/v1/workspaces/${ws.id}/secrets`, {
      key: reader.secret,
      body: { name: "X", value: "y" },
    });
    expect(denied.status).toBe(403);
    expect(
      (await call("DELETE", `/api/v1/workspaces/${ws.id}`, { key: reader.secret })).status,
    ).toBe(403);

    expect((await call("DELETE", `/api/v1/workspaces/${ws.id}/secrets/API_KEY`)).status).toBe(204);
    expect((await call("DELETE", `/api/v1/workspaces/${ws.id}/secrets/API_KEY`)).status).toBe(404);
    const audit = await gw.runtime.db.db
      .selectFrom("auditLog")
      .select("action")
      .where("resourceId", "=", ws.id)
      .execute();
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(["secret.set", "secret.deleted"]),
    );
    // Another tenant's view: not found.
    await expect(gw.runtime.workspaces.listSecrets("other", ws.id)).rejects.toThrow(/not found/);
    await call("DELETE", `/api/v1/workspaces/${ws.id}`);
  });
});
