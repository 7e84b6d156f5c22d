import { AetheriumClient } from "@aetherium/sdk";
import { pageSchema, taskSchema, vmSchema } from "@aetherium/types";
import { describe, expect, it } from "vitest";
import { expectEnvelope, useGatewayFixture } from "../testing/gateway-fixture.js";

// No worker consumes here: sandboxes stay `pending`, which is all these routes need.
const gw = useGatewayFixture({ listen: true });
const call = gw.call;

describe("sandbox create validation", () => {
  it("lists every bad field of a create body", async () => {
    const r = await call("POST", "/api/v1/vms", {
      body: { vcpus: "two", memoryMb: 1, memory_mb: 512 },
    });
    expect(r.status).toBe(400);
    const env = expectEnvelope(r.body, "bad_request");
    const paths = (env.error.details as { path: string }[]).map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(["vcpus", "memoryMb"]));
    expect(env.error.message).toMatch(/memory_mb/);
  });

  it("refuses a bad or repeated tool spec with a clear 400 and records no sandbox", async () => {
    const before = (await call("GET", "/api/v1/vms")).body.items as unknown[];
    for (const [tools, message] of [
      [["node@20", "no good"], /tools\[1\]: must be a tool spec/],
      [["node@20", "node@20"], /tools: tools must not repeat/],
    ] as const) {
      const r = await call("POST", "/api/v1/vms", { body: { name: "wants-node", tools } });
      expect(r.status).toBe(400);
      expect(expectEnvelope(r.body, "bad_request").error.message).toMatch(message);
    }
    expect((await call("GET", "/api/v1/vms")).body.items).toHaveLength(before.length);
  });

  it("records the tools a create asks for and shows them on the sandbox", async () => {
    const r = await call("POST", "/api/v1/vms", {
      body: { name: "wants-tools", tools: ["node@20", "npm:prettier"] },
    });
    expect(r.status).toBe(202);
    expect(vmSchema.parse(r.body.vm).tools).toEqual(["node@20", "npm:prettier"]);
    const id = (r.body.vm as { id: string }).id;
    expect((await call("GET", `/api/v1/vms/${id}`)).body.vm.tools).toEqual([
      "node@20",
      "npm:prettier",
    ]);
  });
});

describe("sandboxes", () => {
  it("creates a sandbox (202 with its task), lists, filters and pages it", async () => {
    const made = await call("POST", "/api/v1/vms", {
      body: { name: "alpha", labels: { team: "core" }, env: { SECRET: "hide-me" } },
    });
    expect(made.status).toBe(202);
    expect(vmSchema.parse(made.body.vm).status).toBe("pending");
    expect(made.body.vm.env.SECRET).not.toBe("hide-me");
    await call("POST", "/api/v1/vms", { body: { name: "beta", labels: { team: "edge" } } });

    const byLabel = pageSchema(vmSchema).parse(
      (await call("GET", "/api/v1/vms?label=team=core")).body,
    );
    expect(byLabel.items.map((v) => v.name)).toEqual(["alpha"]);
    const first = pageSchema(vmSchema).parse((await call("GET", "/api/v1/vms?limit=1")).body);
    expect(first.items).toHaveLength(1);
    expect(first.nextCursor).not.toBeNull();
    const second = pageSchema(vmSchema).parse(
      (await call("GET", `/api/v1/vms?limit=1&cursor=${encodeURIComponent(first.nextCursor!)}`))
        .body,
    );
    expect(second.items[0]?.id).not.toBe(first.items[0]?.id);

    const task = taskSchema.parse(
      (await call("GET", `/api/v1/tasks/${made.body.taskId}`)).body.task,
    );
    expect(task).toMatchObject({ type: "vm:create", vmId: made.body.vm.id });
    const tasks = pageSchema(taskSchema).parse(
      (await call("GET", `/api/v1/tasks?type=vm:create&vmId=${made.body.vm.id}`)).body,
    );
    expect(tasks.items.map((t) => t.id)).toEqual([made.body.taskId]);
  });

  it("replays an Idempotency-Key instead of creating twice", async () => {
    const headers = { "idempotency-key": "create-once-1" };
    const a = await call("POST", "/api/v1/vms", { body: { name: "idem" }, headers });
    const b = await call("POST", "/api/v1/vms", { body: { name: "idem" }, headers });
    expect(b.status).toBe(202);
    expect(b.body).toEqual(a.body);
  });

  it("refuses a duplicate name with 409", async () => {
    await call("POST", "/api/v1/vms", { body: { name: "twin" } });
    const r = await call("POST", "/api/v1/vms", { body: { name: "twin" } });
    expect(r.status).toBe(409);
    expectEnvelope(r.body, "conflict");
  });

  it("sets a timeout and deletes an unplaced sandbox at once", async () => {
    const made = await call("POST", "/api/v1/vms", { body: { name: "gone-soon" } });
    const t = await call("POST", `/api/v1/vms/${made.body.vm.id}/timeout`, {
      body: { timeoutSec: 600 },
    });
    expect(t.status).toBe(200);
    expect(Date.parse(t.body.vm.expiresAt) - Date.now()).toBeGreaterThan(500_000);
    expect(
      (await call("POST", `/api/v1/vms/${made.body.vm.id}/timeout`, { body: { timeoutSec: 0 } }))
        .status,
    ).toBe(400);
    expect((await call("DELETE", `/api/v1/vms/${made.body.vm.id}`)).status).toBe(204);
    expect((await call("GET", `/api/v1/vms/${made.body.vm.id}`)).body.vm.status).toBe("deleted");
  });

  it("the SDK speaks this gateway: create, list by label, delete a never-placed sandbox", async () => {
    const client = new AetheriumClient({ url: gw.url, apiKey: gw.admin });
    const sandbox = await client.vms.create({ name: "via-sdk", labels: { via: "sdk" } });
    expect(sandbox.status).toBe("pending");
    const page = await client.vms.list({ labels: { via: "sdk" } });
    expect(page.items.map((v) => v.name)).toEqual(["via-sdk"]);
    await expect(sandbox.delete()).resolves.toEqual({ taskId: null });
    expect((await client.vms.get(sandbox.id)).status).toBe("deleted");
  });

  it("refuses to stop a sandbox that is not running", async () => {
    const made = await call("POST", "/api/v1/vms", { body: { name: "not-yet" } });
    const stop = await call("POST", `/api/v1/vms/${made.body.vm.id}/stop`);
    expect(stop.status).toBe(409);
  });
});
