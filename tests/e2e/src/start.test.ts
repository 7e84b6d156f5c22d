import { stat } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAetherium, type StartedAetherium } from "./start-aetherium.js";

let app: StartedAetherium;

beforeAll(async () => {
  app = await startAetherium();
});
afterAll(async () => {
  await app?.cleanup();
});

describe("aetherium start (npm start)", () => {
  it("prints where it runs and what it can and cannot do yet", () => {
    expect(app.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(app.stdout()).toMatch(/no sandbox backend yet/);
    expect(app.stdout()).toMatch(/docker\s+(ready|unavailable)/);
  });

  it("keeps its state under AETHERIUM_HOME", async () => {
    expect((await stat(path.join(app.dir, ".aetherium"))).isDirectory()).toBe(true);
  });

  it("answers the health API with its components", async () => {
    const res = await fetch(`${app.url}/api/v1/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const body = (await res.json()) as { status: string; components: Record<string, unknown> };
    expect(body.status).toBe("degraded");
    expect(body.components).toMatchObject({
      database: { status: "ok", detail: "pglite" },
      queue: { status: "ok", detail: "in-process" },
      sandboxes: { status: "down" },
    });
    expect(Object.keys(body.components)).toContain("backend:docker");
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

  it("stops cleanly on SIGTERM", async () => {
    expect(await app.stop("SIGTERM")).toBe(0);
    await expect(fetch(`${app.url}/api/v1/health`)).rejects.toThrow();
  });
});
