import { Writable } from "node:stream";
import { createLogger } from "@aetherium/common";
import { describe, expect, it } from "vitest";
import { expectEnvelope, useGatewayFixture } from "../testing/gateway-fixture.js";

const gw = useGatewayFixture({ server: { rateLimit: { max: 300, timeWindowMs: 60_000 } } });
const call = gw.call;

describe("rate limits", () => {
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

describe("CORS", () => {
  it("sends no CORS grant to a foreign origin unless configured", async () => {
    const res = await gw.app.inject({
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
    const server = await gw.open({ logger, ...(requestLogLevel ? { requestLogLevel } : {}) });
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
