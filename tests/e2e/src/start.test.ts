import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAetherium, type StartedAetherium } from "./start-aetherium.js";

let app: StartedAetherium;

beforeAll(async () => {
  // Its own worker id: reconcile must never touch sandboxes of another Aetherium on this host.
  app = await startAetherium({
    env: { AETHERIUM_WORKER_ID: `e2e-${randomBytes(4).toString("hex")}` },
  });
});
afterAll(async () => {
  await app?.cleanup();
});

describe("aetherium start (npm start)", () => {
  it("prints where it runs and what it can and cannot do yet", () => {
    expect(app.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(app.stdout()).toMatch(/mode:\s+embedded \(database: pglite, queue: in-process\)/);
    // Whether Docker is ready depends on the host (engine up, base image built); either way the
    // banner says which, and why not.
    expect(app.stdout()).toMatch(/sandboxes:\s+(ready on docker|no sandbox backend ready)/);
    expect(app.stdout()).toMatch(/docker\s+(ready|unavailable): \S/);
  });

  it("keeps its state under AETHERIUM_HOME", async () => {
    expect((await stat(path.join(app.dir, ".aetherium"))).isDirectory()).toBe(true);
  });

  it("prints the admin key once, keeps it readable only by its owner, and it works", async () => {
    expect(app.apiKey).toMatch(/^ak_[\w-]{43}$/);
    expect(app.stdout()).toContain(`admin key:   ${app.apiKey}`);
    const file = await stat(path.join(app.dir, ".aetherium", "admin.key"));
    expect(file.mode & 0o777).toBe(0o600);
    const denied = await fetch(`${app.url}/api/v1/vms`);
    expect(denied.status).toBe(401);
    const ok = await fetch(`${app.url}/api/v1/vms`, {
      headers: { authorization: `Bearer ${app.apiKey}` },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ items: [], nextCursor: null });
  });

  it("answers the health API with its components", async () => {
    const res = await fetch(`${app.url}/api/v1/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const body = (await res.json()) as { status: string; components: Record<string, unknown> };
    const sandboxesUp = (body.components.sandboxes as { status: string }).status === "ok";
    expect(body.status).toBe(sandboxesUp ? "ok" : "degraded");
    expect(body.components).toMatchObject({
      database: { status: "ok", message: "pglite" },
      queue: { status: "ok", message: "in-process" },
    });
    expect(["ok", "down"]).toContain((body.components.sandboxes as { status: string }).status);
    expect(Object.keys(body.components)).toContain("backend.docker");
  });

  it("answers an unknown route with the error envelope, not a stack trace", async () => {
    const res = await fetch(`${app.url}/api/v1/no-such-thing`, {
      headers: { "x-request-id": "req-42" },
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({
      error: { code: "not_found", message: "route GET /api/v1/no-such-thing not found" },
      requestId: "req-42",
    });
  });

  it("suggests a first command that works as printed, through npx", () => {
    expect(app.stdout()).toMatch(
      /try:\s+npx aether vm create --name hello && npx aether exec hello -- echo hi\n/,
    );
    expect(app.stdout()).not.toMatch(/(^|[^x] )aether vm create/m);
  });

  it("keeps the terminal to the banner: no line per request at the default log level", async () => {
    for (let i = 0; i < 5; i++) await fetch(`${app.url}/api/v1/health`);
    const unauthorized = await fetch(`${app.url}/api/v1/vms`);
    expect(unauthorized.status).toBe(401);
    expect(app.stdout()).not.toMatch(/incoming request|request completed/);
    // The one-time admin key is still the banner's, in view.
    expect(app.stdout()).toContain(`admin key:   ${app.apiKey}`);
  });

  it("stops cleanly on SIGTERM", async () => {
    expect(await app.stop("SIGTERM")).toBe(0);
    await expect(fetch(`${app.url}/api/v1/health`)).rejects.toThrow();
  });
});
