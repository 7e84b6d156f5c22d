import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AetheriumClient } from "./client.js";
import { AuthError, NetworkError, NotFoundError, RateLimitError } from "./errors.js";

// A stand-in that speaks our own error envelope (spec/api.md); the real gateway is exercised in tests/e2e.
let server: Server;
let url: string;
const seen: { auth?: string | undefined; path?: string | undefined } = {};
let healthDown = false;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.auth = req.headers.authorization;
    seen.path = req.url;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      res
        .writeHead(status, { "content-type": "application/json", ...headers })
        .end(JSON.stringify(body));
    if (req.url === "/api/v1/health")
      return healthDown
        ? send(503, { status: "degraded", components: { queue: { status: "down" } } })
        : send(200, { status: "ok", components: {} });
    if (req.url === "/api/v1/limited")
      return send(
        429,
        { error: { code: "rate_limited", message: "slow down" }, requestId: "r1" },
        { "retry-after": "7" },
      );
    if (req.url === "/api/v1/private")
      return send(401, {
        error: { code: "unauthorized", message: "missing API key" },
        requestId: "r2",
      });
    return send(404, {
      error: { code: "not_found", message: "vm abc not found" },
      requestId: "r3",
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

describe("AetheriumClient", () => {
  it("sends the key and decodes a response", async () => {
    const client = new AetheriumClient({ url: `${url}/`, apiKey: "aet_secret" });
    await expect(client.health()).resolves.toEqual({ status: "ok", components: {} });
    expect(seen.auth).toBe("Bearer aet_secret");
    expect(seen.path).toBe("/api/v1/health");
  });

  it("returns the health report when a required component is down (503)", async () => {
    const client = new AetheriumClient({ url });
    healthDown = true;
    try {
      await expect(client.health()).resolves.toEqual({
        status: "degraded",
        components: { queue: { status: "down" } },
      });
    } finally {
      healthDown = false;
    }
  });

  it("maps error envelopes to typed errors with code, status and request id", async () => {
    const client = new AetheriumClient({ url });
    const notFound = await client.request("GET", "/vms/abc").catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(NotFoundError);
    expect(notFound).toMatchObject({
      code: "not_found",
      status: 404,
      requestId: "r3",
      message: "vm abc not found",
    });
    await expect(client.request("GET", "/private")).rejects.toBeInstanceOf(AuthError);
    const limited = await client.request("GET", "/limited").catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(RateLimitError);
    expect((limited as RateLimitError).retryAfterSec).toBe(7);
  });

  it("says how to fix an unreachable gateway", async () => {
    const client = new AetheriumClient({ url: "http://127.0.0.1:1" });
    const err = await client.health().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toMatch(/npm start/);
  });
});
