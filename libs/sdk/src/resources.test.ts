import { describe, expect, it } from "vitest";
import { AetheriumClient } from "./client.js";
import { ContractError, SandboxError, TimeoutError } from "./errors.js";

const vm = (over: Record<string, unknown> = {}) => ({
  id: "vm-1",
  name: "demo",
  status: "running",
  backend: "docker",
  image: "aetherium/base",
  vcpus: 1,
  memoryMb: 512,
  diskMb: 1024,
  workerId: "w1",
  labels: {},
  env: {},
  network: { egress: "allow-all" },
  createdAt: "2026-01-01T00:00:00.000Z",
  readyAt: null,
  expiresAt: null,
  stoppedAt: null,
  error: null,
  ...over,
});

interface Seen {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: unknown;
}

/** A client whose fetch answers from `route` and records every request. */
function fake(route: (s: Seen) => Response) {
  const seen: Seen[] = [];
  const client = new AetheriumClient({
    url: "http://gw.test",
    apiKey: "k",
    fetch: (input, init) => {
      const s: Seen = {
        method: init?.method ?? "GET",
        url: new URL(input),
        headers: (init?.headers ?? {}) as Record<string, string>,
        body: typeof init?.body === "string" ? JSON.parse(init.body) : init?.body,
      };
      seen.push(s);
      return Promise.resolve(route(s));
    },
  });
  return { client, seen };
}

describe("vms", () => {
  it("creates with ?wait=true and the idempotency key, and returns a running handle", async () => {
    const { client, seen } = fake(() => Response.json({ vm: vm() }, { status: 201 }));
    const sandbox = await client.vms.create(
      { name: "demo", labels: { team: "core" } },
      { wait: true, idempotencyKey: "idem-1" },
    );
    expect(sandbox).toMatchObject({ id: "vm-1", name: "demo", status: "running" });
    expect(seen[0]).toMatchObject({
      method: "POST",
      body: { name: "demo", labels: { team: "core" } },
    });
    expect(seen[0]!.url.search).toBe("?wait=true");
    expect(seen[0]!.headers["idempotency-key"]).toBe("idem-1");
    expect(JSON.stringify(sandbox)).toBe(JSON.stringify(vm()));
  });

  it("turns a failed create into SandboxError with the sandbox's own reason", async () => {
    const { client } = fake(() =>
      Response.json(
        {
          error: {
            code: "unavailable",
            message: "sandbox vm-1 create failed",
            details: { vm: vm({ status: "failed", error: "image not found" }), taskId: "t" },
          },
          requestId: "r",
        },
        { status: 503 },
      ),
    );
    const err = await client.vms.create({}, { wait: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxError);
    expect(err).toMatchObject({ vmId: "vm-1", vmStatus: "failed", vmError: "image not found" });
    expect((err as Error).message).toMatch(/image not found/);
  });

  it("keeps waiting itself when the gateway's own wait ran out (202)", async () => {
    let gets = 0;
    const { client } = fake((s) => {
      if (s.method === "POST")
        return Response.json({ vm: vm({ status: "creating" }), taskId: "t1" }, { status: 202 });
      gets++;
      return Response.json({ vm: vm({ status: gets < 2 ? "creating" : "running" }) });
    });
    const sandbox = await client.vms.create({}, { wait: true });
    expect(sandbox.status).toBe("running");
    expect(sandbox.taskId).toBe("t1");
  });

  it("waitUntil reports each status, and fails fast on a dead end", async () => {
    const states = ["pending", "creating", "failed"];
    const { client } = fake((s) =>
      s.method === "POST"
        ? Response.json({ vm: vm({ status: "pending" }), taskId: "t" }, { status: 202 })
        : Response.json({ vm: vm({ status: states.shift() ?? "failed", error: "boom" }) }),
    );
    const sandbox = await client.vms.create();
    const seenStatus: string[] = [];
    const err = await sandbox
      .waitUntil("running", { intervalMs: 1, onStatus: (v) => seenStatus.push(v.status) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxError);
    expect(seenStatus).toEqual(["pending", "creating", "failed"]);
  });

  it("waitUntil gives up with TimeoutError", async () => {
    const { client } = fake(() => Response.json({ vm: vm({ status: "creating" }) }));
    const sandbox = await client.vms.get("vm-1");
    const err = await sandbox
      .waitUntil("running", { timeoutMs: 5, intervalMs: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).timeoutMs).toBe(5);
  });

  it("iterates over every page with the filters", async () => {
    const { client, seen } = fake((s) =>
      s.url.searchParams.get("cursor") === "c2"
        ? Response.json({ items: [vm({ id: "b" })], nextCursor: null })
        : Response.json({ items: [vm({ id: "a" })], nextCursor: "c2" }),
    );
    const ids: string[] = [];
    for await (const v of client.vms.iterate({ status: "running", labels: { team: "x" } }))
      ids.push(v.id);
    expect(ids).toEqual(["a", "b"]);
    expect(seen[0]!.url.search).toBe("?status=running&label=team%3Dx");
  });

  it("a response outside the contract is a ContractError naming the field", async () => {
    const { client } = fake(() => Response.json({ vm: { ...vm(), status: "exploded" } }));
    const err = await client.vms.get("vm-1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContractError);
    expect((err as Error).message).toMatch(/GET \/vms\/vm-1: vm\.status/);
  });

  it("files: binary read, write as octet-stream, list and remove", async () => {
    const bytes = new Uint8Array([0, 1, 254, 255]);
    const { client, seen } = fake((s) => {
      if (s.url.pathname.endsWith("/files/list"))
        return Response.json({ path: "/tmp", entries: [] });
      if (s.url.pathname.endsWith("/files") && s.method === "GET") return new Response(bytes);
      if (s.method === "PUT") return Response.json({ path: "/tmp/x", size: 4 });
      if (s.method === "DELETE") return new Response(null, { status: 204 });
      return Response.json({ vm: vm() });
    });
    const sandbox = await client.vms.get("vm-1");
    expect(await sandbox.files.read("/tmp/x")).toEqual(bytes);
    expect(await sandbox.files.write("/tmp/x", bytes, { mode: 0o755 })).toEqual({
      path: "/tmp/x",
      size: 4,
    });
    const put = seen.find((s) => s.method === "PUT")!;
    expect(put.headers["content-type"]).toBe("application/octet-stream");
    expect(put.body).toEqual(bytes);
    expect(put.url.search).toBe("?path=%2Ftmp%2Fx&mode=755");
    expect(await sandbox.files.list("/tmp")).toEqual([]);
    await sandbox.files.remove("/tmp", { recursive: true });
    expect(seen.at(-1)!.url.search).toBe("?path=%2Ftmp&recursive=true");
  });

  it("delete of a never-placed sandbox answers 204 and gives no task", async () => {
    const { client } = fake((s) =>
      s.method === "DELETE" ? new Response(null, { status: 204 }) : Response.json({ vm: vm() }),
    );
    const sandbox = await client.vms.get("vm-1");
    await expect(sandbox.delete()).resolves.toEqual({ taskId: null });
  });
});

describe("tasks", () => {
  it("wait polls until the task has finished", async () => {
    const statuses = ["queued", "running", "succeeded"];
    const { client } = fake(() =>
      Response.json({
        task: {
          id: "t1",
          type: "vm:create",
          status: statuses.shift() ?? "succeeded",
          attempts: 1,
          maxAttempts: 3,
          payload: {},
          result: null,
          error: null,
          createdAt: "2026-01-01T00:00:00.000Z",
          startedAt: null,
          completedAt: null,
        },
      }),
    );
    await expect(client.tasks.wait("t1", { intervalMs: 1 })).resolves.toMatchObject({
      status: "succeeded",
    });
  });
});
