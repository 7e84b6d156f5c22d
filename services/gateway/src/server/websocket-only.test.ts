import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, loadConfig } from "@aetherium/common";
import { DataPlaneClient, openRuntime, type Runtime } from "@aetherium/core";
import { useTestDatabase } from "@aetherium/testing";
import { errorResponseSchema } from "@aetherium/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ensureBootstrapKey } from "../auth/bootstrap-key.js";
import { buildServer, type GatewayApp } from "./build-server.js";

// A real gateway on real PostgreSQL, listening on loopback: WebSocket routes fetched as plain
// HTTP say how to connect, in the envelope, and still accept a real upgrade.
const db = useTestDatabase();
let home: string;
let runtime: Runtime;
let app: GatewayApp;
let admin: string;
let url: string;

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "aet-ws-only-"));
  const config = loadConfig({
    env: { AETHERIUM_DATABASE_URL: db.current.url, AETHERIUM_HOME: home },
  });
  const logger = createLogger({ level: "silent", service: "gateway-ws-only" });
  runtime = await openRuntime(config, { logger, migrate: true });
  admin = (await ensureBootstrapKey(runtime.repos, { home })).secret;
  app = await buildServer({
    logger,
    runtime,
    dataPlane: new DataPlaneClient({ timeoutMs: 2000 }),
    health: () => Promise.resolve({ status: "ok", version: "test", components: {} }),
  });
  url = await app.listen({ host: "127.0.0.1", port: 0 });
});

afterAll(async () => {
  await app?.close();
  await runtime?.close();
  await rm(home, { recursive: true, force: true });
});

describe("WebSocket routes over plain HTTP", () => {
  for (const route of ["/api/v1/events", "/api/v1/vms/no-such-sandbox/exec"]) {
    it(`GET ${route} without the upgrade is a 400 envelope saying how to connect`, async () => {
      const res = await fetch(`${url}${route}`, { headers: { authorization: `Bearer ${admin}` } });
      expect(res.status).toBe(400);
      const body = errorResponseSchema.parse(await res.json());
      expect(body.error.code).toBe("bad_request");
      expect(body.error.message).toMatch(/WebSocket.*Upgrade: websocket/);
    });
  }

  it("still lets a client with a key open the events stream", async () => {
    const ws = new WebSocket(`${url.replace("http", "ws")}/api/v1/events`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    try {
      const opened = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 10_000);
        ws.once("open", () => {
          clearTimeout(timer);
          resolve(true);
        });
        ws.once("error", () => {
          clearTimeout(timer);
          resolve(false);
        });
      });
      expect(opened).toBe(true);
    } finally {
      ws.terminate();
    }
  });
});
