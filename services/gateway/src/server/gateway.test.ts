import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { createLogger, loadConfig } from "@aetherium/common";
import { DataPlaneClient, openRuntime, type Runtime } from "@aetherium/core";
import { AetheriumClient } from "@aetherium/sdk";
import { useTestDatabase } from "@aetherium/testing";
import {
  apiKeySchema,
  clusterStatsSchema,
  createEvent,
  errorResponseSchema,
  pageSchema,
  taskSchema,
  vmSchema,
} from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ensureBootstrapKey } from "../auth/bootstrap-key.js";
import { buildServer, type GatewayApp } from "./build-server.js";

const db = useTestDatabase();
let home: string;
let runtime: Runtime;
let app: GatewayApp;
let admin: string;
let url: string;

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "aet-gw-"));
  const config = loadConfig({
    env: { AETHERIUM_DATABASE_URL: db.current.url, AETHERIUM_HOME: home },
  });
  const logger = createLogger({
    level: process.env.GW_TEST_LOG ? "error" : "silent",
    service: "gateway-test",
  });
  // No worker consumes here: sandboxes stay `pending`, which is all these routes need.
  runtime = await openRuntime(config, { logger, migrate: true });
  admin = (await ensureBootstrapKey(runtime.repos, { home })).secret;
  app = await buildServer({
    logger,
    runtime,
    dataPlane: new DataPlaneClient(),
    health: () => Promise.resolve({ status: "ok", version: "test", components: {} }),
    rateLimit: { max: 300, timeWindowMs: 60_000 },
    waitTimeoutMs: 500,
    streamRecheckMs: 100,
  });
  url = (await app.listen({ host: "127.0.0.1", port: 0 })).replace("[::1]", "localhost");
});

afterAll(async () => {
  await app?.close();
  await runtime?.close();
  await rm(home, { recursive: true, force: true });
});

type Method = "GET" | "POST" | "PUT" | "DELETE";
async function call(
  method: Method,
  route: string,
  options: {
    body?: unknown;
    key?: string | null;
    headers?: Record<string, string>;
    raw?: string;
  } = {},
) {
  const key = options.key === undefined ? admin : options.key;
  const res = await app.inject({
    method,
    url: route,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(options.body !== undefined || options.raw !== undefined
        ? { "content-type": "application/json" }
        : {}),
      ...options.headers,
    },
    ...(options.raw !== undefined
      ? { payload: options.raw }
      : options.body !== undefined
        ? { payload: JSON.stringify(options.body) }
        : {}),
  });
  const text = res.body;
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : null };
}

function expectEnvelope(body: unknown, code: string) {
  const parsed = errorResponseSchema.parse(body);
  expect(parsed.error.code).toBe(code);
  return parsed;
}

describe("authentication", () => {
  it("refuses a request without a key, saying how to send one", async () => {
    const r = await call("GET", "/api/v1/vms", { key: null });
    expect(r.status).toBe(401);
    expect(expectEnvelope(r.body, "unauthorized").error.message).toMatch(/Authorization: Bearer/);
  });

  it("refuses a wrong key", async () => {
    const r = await call("GET", "/api/v1/vms", { key: "ak_not-a-real-key" });
    expect(r.status).toBe(401);
    expectEnvelope(r.body, "unauthorized");
  });

  it("leaves health open", async () => {
    const r = await call("GET", "/api/v1/health", { key: null });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("ok");
  });

  it("enforces scopes: read may list, not create; write may not manage keys", async () => {
    const reader = await call("POST", "/api/v1/api-keys", {
      body: { name: "reader", scopes: ["read"] },
    });
    expect(reader.status).toBe(201);
    const writer = await call("POST", "/api/v1/api-keys", { body: { name: "writer" } });
    expect(writer.body.apiKey.scopes).toEqual(["read", "write"]);

    expect((await call("GET", "/api/v1/vms", { key: reader.body.secret })).status).toBe(200);
    const denied = await call("POST", "/api/v1/vms", { key: reader.body.secret, body: {} });
    expect(denied.status).toBe(403);
    expect(expectEnvelope(denied.body, "forbidden").error.message).toMatch(/needs write/);
    const keys = await call("GET", "/api/v1/api-keys", { key: writer.body.secret });
    expect(keys.status).toBe(403);
  });

  it("revocation takes effect on the very next request, and last use is recorded", async () => {
    const made = await call("POST", "/api/v1/api-keys", { body: { name: "short-lived" } });
    const secret = made.body.secret as string;
    expect((await call("GET", "/api/v1/tasks", { key: secret })).status).toBe(200);
    type Listed = { id: string; lastUsedAt: string | null; prefix: string };
    let listed = await call("GET", "/api/v1/api-keys");
    const find = () => (listed.body.items as Listed[]).find((k) => k.id === made.body.apiKey.id);
    // Last use is recorded beside the request, not in its way.
    for (let i = 0; i < 50 && !find()?.lastUsedAt; i++) {
      await new Promise((r) => setTimeout(r, 20));
      listed = await call("GET", "/api/v1/api-keys");
    }
    const row = find()!;
    expect(row.lastUsedAt).not.toBeNull();
    expect(row.prefix).toBe(secret.slice(0, 10));
    expect(JSON.stringify(listed.body)).not.toContain(secret);

    expect((await call("DELETE", `/api/v1/api-keys/${made.body.apiKey.id}`)).status).toBe(204);
    const after = await call("GET", "/api/v1/tasks", { key: secret });
    expect(after.status).toBe(401);
    expect(after.body.error.message).toMatch(/revoked/);
    const again = await call("DELETE", `/api/v1/api-keys/${made.body.apiKey.id}`);
    expect(again.status).toBe(409);
  });

  it("stores only a hash of each secret", async () => {
    const made = await call("POST", "/api/v1/api-keys", { body: { name: "hashed" } });
    const row = await runtime.repos.apiKeys.get(made.body.apiKey.id);
    expect(row?.keyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(made.body.secret);
  });

  it("writes an audit row for each mutating call, without bodies", async () => {
    const r = await call("POST", "/api/v1/vms", {
      body: { name: "audited", env: { TOKEN: "s3cret-value" } },
      headers: { "x-request-id": "audit-req-1" },
    });
    expect(r.status).toBe(202);
    // The row is written after the response is sent.
    let rows: Awaited<ReturnType<typeof runtime.repos.auditLog.list>>["items"] = [];
    for (let i = 0; i < 50 && rows.length === 0; i++) {
      rows = (await runtime.repos.auditLog.list()).items.filter(
        (a) => a.requestId === "audit-req-1",
      );
      if (rows.length === 0) await new Promise((res) => setTimeout(res, 20));
    }
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: "POST /api/v1/vms",
      statusCode: 202,
      resourceType: "vms",
    });
    expect(rows[0]?.actorKeyId).toBeTruthy();
    expect(JSON.stringify(rows[0])).not.toContain("s3cret-value");
  });
});

describe("validation and errors", () => {
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

  it("refuses tools on a create with a clear 400 and records no sandbox", async () => {
    const before = (await call("GET", "/api/v1/vms")).body.items as unknown[];
    const r = await call("POST", "/api/v1/vms", {
      body: { name: "wants-node", tools: ["node@20"] },
    });
    expect(r.status).toBe(400);
    const env = expectEnvelope(r.body, "bad_request");
    expect(env.error.message).toMatch(/tools: tool installation is not available yet/);
    expect((await call("GET", "/api/v1/vms")).body.items).toHaveLength(before.length);
  });

  it("answers bad input on every route with a 4xx envelope, never a 500", async () => {
    const vm = (await call("POST", "/api/v1/vms", { body: { name: "bad-input" } })).body.vm as {
      id: string;
    };
    const cases: [Method, string, unknown, number][] = [
      ["POST", "/api/v1/vms", { backend: "vmware" }, 400],
      ["POST", "/api/v1/vms", { labels: { "bad key!": "x" } }, 400],
      ["POST", "/api/v1/vms", { tools: ["not a tool spec"] }, 400],
      ["POST", "/api/v1/vms?wait=perhaps", {}, 400],
      ["GET", "/api/v1/vms?label=novalue", undefined, 400],
      ["GET", "/api/v1/vms?limit=-3", undefined, 400],
      ["POST", `/api/v1/vms/${vm.id}/timeout`, { timeoutSec: "soon" }, 400],
      ["POST", `/api/v1/vms/${vm.id}/timeout`, {}, 400],
      ["POST", `/api/v1/vms/${vm.id}/stop`, { force: "yes" }, 400],
      ["POST", `/api/v1/vms/${vm.id}/execute`, { command: "" }, 400],
      ["POST", `/api/v1/vms/${vm.id}/execute`, { command: "ls", timeoutMs: 0 }, 400],
      ["POST", `/api/v1/vms/${vm.id}/execute`, { command: "ls", cwd: "relative" }, 400],
      ["POST", `/api/v1/vms/${vm.id}/execute`, { command: "ls", user: "no spaces" }, 400],
      ["POST", `/api/v1/vms/${vm.id}/execute?async=maybe`, { command: "ls" }, 400],
      ["GET", `/api/v1/vms/${vm.id}/files`, undefined, 400],
      ["GET", `/api/v1/vms/${vm.id}/files?path=relative/x`, undefined, 400],
      ["GET", `/api/v1/vms/${vm.id}/files?path=/a/../b`, undefined, 400],
      ["GET", `/api/v1/vms/${vm.id}/files/list`, undefined, 400],
      ["DELETE", `/api/v1/vms/${vm.id}/files?path=/x&recursive=sure`, undefined, 400],
      ["GET", `/api/v1/vms/${vm.id}/files?path=/etc/hostname`, undefined, 409],
      ["GET", `/api/v1/vms/${vm.id}/executions?cursor=zzz`, undefined, 400],
      ["GET", "/api/v1/vms/no-such-vm/executions", undefined, 404],
      ["GET", "/api/v1/tasks?status=done", undefined, 400],
      ["GET", "/api/v1/tasks?type=vm:explode", undefined, 400],
      ["POST", "/api/v1/tasks/no-such-task/cancel", undefined, 404],
      ["GET", "/api/v1/workers?status=sleepy", undefined, 400],
      ["POST", "/api/v1/workers/no-such-worker/drain", undefined, 404],
      ["POST", "/api/v1/workers/no-such-worker/activate", undefined, 404],
      ["POST", "/api/v1/api-keys", { name: "" }, 400],
      ["POST", "/api/v1/api-keys", { name: "k", scopes: ["root"] }, 400],
      ["POST", "/api/v1/api-keys", { name: "k", scopes: [] }, 400],
      ["DELETE", "/api/v1/api-keys/no-such-key", undefined, 404],
      ["GET", "/api/v1/api-keys?includeRevoked=often", undefined, 400],
    ];
    for (const [method, route, body, status] of cases) {
      const r = await call(method, route, body === undefined ? {} : { body });
      expect(r.status, `${method} ${route} ${JSON.stringify(body)}`).toBe(status);
      errorResponseSchema.parse(r.body);
    }
  });

  it("answers malformed JSON with 400, not 500", async () => {
    const r = await call("POST", "/api/v1/vms", { raw: '{"name": ' });
    expect(r.status).toBe(400);
    expectEnvelope(r.body, "bad_request");
  });

  it("answers an oversized body with 413", async () => {
    const r = await call("POST", "/api/v1/vms", {
      raw: JSON.stringify({ name: "x".repeat(11 * 1024 * 1024) }),
    });
    expect(r.status).toBe(413);
    expectEnvelope(r.body, "payload_too_large");
  });

  it("answers unknown ids with 404 and bad cursors with 400", async () => {
    expectEnvelope((await call("GET", "/api/v1/vms/nope")).body, "not_found");
    expectEnvelope(
      (await call("GET", "/api/v1/tasks/0b6c5f0e-9d7e-4a43-8d2e-0e0f4b4b7a11")).body,
      "not_found",
    );
    expectEnvelope((await call("GET", "/api/v1/workers/nope")).body, "not_found");
    expectEnvelope((await call("GET", "/api/v1/executions/nope")).body, "not_found");
    const bad = await call("GET", "/api/v1/vms?cursor=%%%garbage");
    expect(bad.status).toBe(400);
    expectEnvelope(bad.body, "bad_request");
    expect((await call("GET", "/api/v1/vms?limit=zero")).status).toBe(400);
    expect((await call("GET", "/api/v1/vms?status=sleeping")).status).toBe(400);
  });

  it("answers an unknown route with 404 and the request id", async () => {
    const r = await call("GET", "/api/v1/no-such-thing", { headers: { "x-request-id": "req-7" } });
    expect(r.status).toBe(404);
    expect(r.body.requestId).toBe("req-7");
    expect(r.headers["x-request-id"]).toBe("req-7");
  });

  it("rate-limits per key with Retry-After", async () => {
    const made = await call("POST", "/api/v1/api-keys", { body: { name: "busy" } });
    const key = made.body.secret as string;
    let limited: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 310 && !limited; i++) {
      const r = await call("GET", "/api/v1/tasks?limit=1", { key });
      if (r.status === 429) limited = r;
    }
    expect(limited?.status).toBe(429);
    expectEnvelope(limited?.body, "rate_limited");
    expect(Number(limited?.headers["retry-after"])).toBeGreaterThan(0);
    // Another key has its own budget.
    expect((await call("GET", "/api/v1/tasks?limit=1")).status).not.toBe(429);
  });
});

describe("sandboxes, tasks and workers", () => {
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
    const client = new AetheriumClient({ url, apiKey: admin });
    const sandbox = await client.vms.create({ name: "via-sdk", labels: { via: "sdk" } });
    expect(sandbox.status).toBe("pending");
    const page = await client.vms.list({ labels: { via: "sdk" } });
    expect(page.items.map((v) => v.name)).toEqual(["via-sdk"]);
    await expect(sandbox.delete()).resolves.toEqual({ taskId: null });
    expect((await client.vms.get(sandbox.id)).status).toBe("deleted");
  });

  it("refuses to stop a sandbox that is not running, and to exec in it", async () => {
    const made = await call("POST", "/api/v1/vms", { body: { name: "not-yet" } });
    const stop = await call("POST", `/api/v1/vms/${made.body.vm.id}/stop`);
    expect(stop.status).toBe(409);
    const exec = await call("POST", `/api/v1/vms/${made.body.vm.id}/execute`, {
      body: { command: "true" },
    });
    expect(exec.status).toBe(409);
    expectEnvelope(exec.body, "conflict");
    expect(
      (await call("POST", `/api/v1/vms/${made.body.vm.id}/execute`, { body: {} })).status,
    ).toBe(400);
  });

  it("cancels a queued task, and refuses to cancel it twice", async () => {
    const made = await call("POST", "/api/v1/vms", { body: { name: "cancel-me" } });
    const c = await call("POST", `/api/v1/tasks/${made.body.taskId}/cancel`);
    expect(c.status).toBe(200);
    expect(c.body.task.status).toBe("cancelled");
    expect((await call("POST", `/api/v1/tasks/${made.body.taskId}/cancel`)).status).toBe(409);
  });

  it("reports cluster stats and an empty fleet honestly", async () => {
    const stats = clusterStatsSchema.parse((await call("GET", "/api/v1/cluster/stats")).body);
    expect(stats.workers.total).toBe(0);
    expect(stats.vms.pending).toBeGreaterThan(0);
    const workers = await call("GET", "/api/v1/workers");
    expect(workers.body).toEqual({ items: [], nextCursor: null });
  });

  it("publishes the OpenAPI 3.1 document and a reference page", async () => {
    const doc = await call("GET", "/api/v1/openapi.json", { key: null });
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\.1/);
    for (const p of [
      "/api/v1/vms",
      "/api/v1/vms/{id}/execute",
      "/api/v1/tasks/{id}/cancel",
      "/api/v1/api-keys",
    ]) {
      expect(Object.keys(doc.body.paths)).toContain(p);
    }
    expect(doc.body.paths["/api/v1/vms"].post.requestBody).toBeDefined();
    const page = await app.inject({ method: "GET", url: "/api/v1/docs/" });
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(/swagger/i);
    expect(apiKeySchema.shape.id).toBeDefined();
  });
});

describe("metrics and CORS", () => {
  it("serves Prometheus metrics openly, labelled by route pattern, never by id", async () => {
    await call("GET", "/api/v1/vms/some-id-123");
    const res = await app.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/text\/plain/);
    expect(res.body).toMatch(
      /aetherium_http_request_duration_seconds_count\{[^}]*route="\/api\/v1\/vms\/:id"/,
    );
    expect(res.body).not.toContain("some-id-123");
  });

  it("sends no CORS grant to a foreign origin unless configured", async () => {
    const res = await app.inject({
      method: "OPTIONS",
      url: "/api/v1/vms",
      headers: { origin: "https://evil.example", "access-control-request-method": "GET" },
    });
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });
});

describe("request logs", () => {
  /** A server whose logger writes JSON lines into the returned list. */
  async function serverLogging(level: "info" | "debug", requestLogLevel?: "info" | "debug") {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ level, service: "gateway-test", format: "json", destination });
    const server = await buildServer({
      logger,
      runtime,
      dataPlane: new DataPlaneClient(),
      health: () => Promise.resolve({ status: "ok", version: "test", components: {} }),
      waitTimeoutMs: 500,
      ...(requestLogLevel ? { requestLogLevel } : {}),
    });
    await server.inject({ method: "GET", url: "/api/v1/health" });
    await server.close();
    return lines.filter((l) => /incoming request|request completed/.test(l));
  }

  it("logs each request at info by default, and only at debug when asked (as in start)", async () => {
    expect(await serverLogging("info")).toHaveLength(2);
    expect(await serverLogging("info", "debug")).toEqual([]);
    const atDebug = await serverLogging("debug", "debug");
    expect(atDebug).toHaveLength(2);
    expect(atDebug[1]).toMatch(/"level":"debug".*"msg":"request completed"/);
  });
});

describe("the dashboard build at /", () => {
  it("serves pages per folder, redirects to the trailing slash, 404s with its own page", async () => {
    const dir = path.join(home, "ui");
    await mkdir(path.join(dir, "sandboxes"), { recursive: true });
    await writeFile(path.join(dir, "index.html"), "<h1>overview</h1>");
    await writeFile(path.join(dir, "sandboxes", "index.html"), "<h1>sandboxes</h1>");
    await writeFile(path.join(dir, "404.html"), "<h1>no such page</h1>");
    const ui = await buildServer({
      logger: createLogger({ level: "silent", service: "ui-test" }),
      runtime,
      dataPlane: new DataPlaneClient(),
      health: () => Promise.resolve({ status: "ok", version: "test", components: {} }),
      dashboardDir: dir,
    });
    try {
      expect((await ui.inject({ url: "/" })).body).toContain("overview");
      const bare = await ui.inject({ url: "/sandboxes" });
      expect(bare.statusCode).toBe(301);
      expect(bare.headers.location).toBe("/sandboxes/");
      const page = await ui.inject({ url: "/sandboxes/?id=abc" });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain("sandboxes");
      const missing = await ui.inject({ url: "/no-such-page/" });
      expect(missing.statusCode).toBe(404);
      expect(missing.body).toContain("no such page");
      const api = await ui.inject({ url: "/api/v1/nothing-here" });
      expect(api.statusCode).toBe(404);
      expect(api.json()).toMatchObject({ error: { code: "not_found" } });
    } finally {
      await ui.close();
    }
  });
});

describe("events WebSocket", () => {
  function connect(query: string, protocols: string[]) {
    const ws = new WebSocket(`${url.replace("http", "ws")}/api/v1/events${query}`, protocols);
    const got: { type: string }[] = [];
    ws.on("message", (d: Buffer) => got.push(JSON.parse(d.toString("utf8")) as { type: string }));
    return {
      ws,
      got,
      open: new Promise<void>((res, rej) => (ws.once("open", () => res()), ws.once("error", rej))),
    };
  }

  it("streams events filtered by topic, authenticated by subprotocol", async () => {
    const vmOnly = connect("?topics=vm", ["aetherium.v1", `bearer.${admin}`]);
    const all = connect("", ["aetherium.v1", `bearer.${admin}`]);
    await Promise.all([vmOnly.open, all.open]);
    expect(vmOnly.ws.protocol).toBe("aetherium.v1");
    await runtime.bus.publish(createEvent("worker.joined", { worker: { id: "w-x" } } as never));
    const made = await call("POST", "/api/v1/vms", { body: { name: "evented" } });
    for (let i = 0; i < 100 && !vmOnly.got.some((e) => e.type === "vm.created"); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(vmOnly.got.map((e) => e.type)).toContain("vm.created");
    expect(vmOnly.got.every((e) => e.type.startsWith("vm."))).toBe(true);
    expect(all.got.map((e) => e.type)).toEqual(
      expect.arrayContaining(["worker.joined", "vm.created"]),
    );
    expect(JSON.stringify(vmOnly.got)).toContain(made.body.vm.id);
    vmOnly.ws.close();
    all.ws.close();
  });

  it("closes a stream when its key is revoked, here or on another gateway", async () => {
    const mk = async (name: string) =>
      (await call("POST", "/api/v1/api-keys", { body: { name } })).body as {
        apiKey: { id: string };
        secret: string;
      };
    const here = await mk("stream-here");
    const elsewhere = await mk("stream-elsewhere");
    const a = connect("", ["aetherium.v1", `bearer.${here.secret}`]);
    const b = connect("", ["aetherium.v1", `bearer.${elsewhere.secret}`]);
    await Promise.all([a.open, b.open]);
    const closed = (ws: WebSocket) =>
      new Promise<{ code: number; reason: string }>((res) =>
        ws.once("close", (code, reason) => res({ code, reason: reason.toString() })),
      );
    const aClosed = closed(a.ws);
    const bClosed = closed(b.ws);
    expect((await call("DELETE", `/api/v1/api-keys/${here.apiKey.id}`)).status).toBe(204);
    expect(await aClosed).toEqual({ code: 1008, reason: "API key revoked" });
    // Revoked behind this gateway's back, as another gateway would: found by the sweep.
    await runtime.repos.apiKeys.revoke(elsewhere.apiKey.id);
    expect(await bClosed).toEqual({ code: 1008, reason: "API key revoked" });
  });

  it("refuses a WebSocket without a key", async () => {
    const c = connect("", []);
    await expect(c.open).rejects.toThrow(/401/);
  });
});
