import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, loadConfig } from "@aetherium/common";
import { DataPlaneClient, openControlPlane, type ControlPlane } from "@aetherium/core";
import { AetheriumClient, AuthError } from "@aetherium/sdk";
import { useTestDatabase } from "@aetherium/testing";
import { backendsResponseSchema, errorResponseSchema, type VmBackend } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBootstrapKey } from "../auth/bootstrap-key.js";
import { buildServer, type GatewayApp } from "../server/build-server.js";

// A real runtime on its own database; the workers are rows only, which is all the route reads.
const db = useTestDatabase();
let home: string;
let runtime: ControlPlane;
let app: GatewayApp;
let admin: string;

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "aet-backends-"));
  const config = loadConfig({
    env: { AETHERIUM_DATABASE_URL: db.current.url, AETHERIUM_HOME: home },
  });
  expect(config.sandbox.defaultBackend).toBe("auto");
  const logger = createLogger({ level: "silent", service: "backends-test" });
  runtime = await openControlPlane(config, { logger, migrate: true });
  admin = (await ensureBootstrapKey(runtime.repos, { home })).secret;
  app = await buildServer({
    logger,
    runtime,
    dataPlane: new DataPlaneClient(),
    health: () => Promise.resolve({ status: "ok", version: "test", components: {} }),
    rateLimit: { max: 300, timeWindowMs: 60_000 },
    waitTimeoutMs: 500,
  });
});

afterAll(async () => {
  await app?.close();
  await runtime?.close();
  await rm(home, { recursive: true, force: true });
});

async function call(method: "GET" | "POST" | "DELETE", url: string, body?: unknown, key = admin) {
  const res = await app.inject({
    method,
    url,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
  return { status: res.statusCode, body: JSON.parse(res.body || "null") as unknown };
}

const worker = (id: string, backends: VmBackend[]) =>
  runtime.repos.workers.register({
    id,
    hostname: "h",
    address: "http://127.0.0.1:1",
    backends,
    capacity: { vcpus: 4, memoryMb: 8192, maxVms: 10 },
  });

const offers = (body: unknown) =>
  Object.fromEntries(backendsResponseSchema.parse(body).backends.map((b) => [b.backend, b]));

describe("GET /api/v1/backends", () => {
  it("needs a key, and a read-only key is enough", async () => {
    const open = await call("GET", "/api/v1/backends", undefined, "");
    expect(open.status).toBe(401);
    expect(errorResponseSchema.parse(open.body).error.code).toBe("unauthorized");
    const created = await call("POST", "/api/v1/api-keys", {
      name: "backends-reader",
      scopes: ["read"],
    });
    expect(created.status).toBe(201);
    const secret = (created.body as { secret: string }).secret;
    expect((await call("GET", "/api/v1/backends", undefined, secret)).status).toBe(200);
  });

  it("offers nothing with no active worker, and says a create would get docker", async () => {
    const r = await call("GET", "/api/v1/backends");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      backends: [
        { backend: "docker", offered: false, workers: 0 },
        { backend: "firecracker", offered: false, workers: 0 },
        { backend: "qemu", offered: false, workers: 0 },
      ],
      configured: "auto",
      default: "docker",
    });
  });

  it("follows the fleet: a qemu-only fleet offers qemu, and a create naming none lands there", async () => {
    await worker("w-qemu", ["qemu"]);
    const r = await call("GET", "/api/v1/backends");
    expect(offers(r.body)).toEqual({
      docker: { backend: "docker", offered: false, workers: 0 },
      firecracker: { backend: "firecracker", offered: false, workers: 0 },
      qemu: { backend: "qemu", offered: true, workers: 1 },
    });
    expect((r.body as { default: string }).default).toBe("qemu");

    const created = await call("POST", "/api/v1/vms", { name: "lands-on-qemu" });
    expect(created.status).toBe(202);
    const vm = (created.body as { vm: { id: string; backend: string } }).vm;
    expect(vm.backend).toBe("qemu");
    const refused = await call("POST", "/api/v1/vms", { name: "wants-docker", backend: "docker" });
    expect(refused.status).toBe(400);
    expect(errorResponseSchema.parse(refused.body).error.message).toMatch(
      /backend "docker".*the fleet offers: w-qemu \(qemu;/,
    );
    expect((await call("DELETE", `/api/v1/vms/${vm.id}`)).status).toBeLessThan(300);
  });

  it("counts only active workers, and prefers firecracker when one offers it", async () => {
    await worker("w-kvm", ["firecracker", "qemu"]);
    let r = await call("GET", "/api/v1/backends");
    expect(offers(r.body).qemu?.workers).toBe(2);
    expect((r.body as { default: string }).default).toBe("firecracker");

    expect((await call("POST", "/api/v1/workers/w-kvm/drain", {})).status).toBe(200);
    r = await call("GET", "/api/v1/backends");
    expect(offers(r.body).firecracker).toEqual({
      backend: "firecracker",
      offered: false,
      workers: 0,
    });
    expect(offers(r.body).qemu?.workers).toBe(1);
    expect((r.body as { default: string }).default).toBe("qemu");
    expect((await call("POST", "/api/v1/workers/w-kvm/activate", {})).status).toBe(200);
  });

  it("is what the SDK's backends.list() returns", async () => {
    const url = (await app.listen({ host: "127.0.0.1", port: 0 })).replace("[::1]", "localhost");
    const client = new AetheriumClient({ url, apiKey: admin });
    const listed = await client.backends.list();
    expect(listed).toEqual((await call("GET", "/api/v1/backends")).body);
    expect(listed.backends.filter((b) => b.offered).map((b) => b.backend)).toEqual([
      "firecracker",
      "qemu",
    ]);
    await expect(
      new AetheriumClient({ url, apiKey: "ak_not-a-real-key" }).backends.list(),
    ).rejects.toBeInstanceOf(AuthError);
  });
});
