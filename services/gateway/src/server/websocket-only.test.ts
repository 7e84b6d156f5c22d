import { errorResponseSchema } from "@aetherium/types";
import { beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { useGatewayFixture } from "../testing/gateway-fixture.js";

// A real gateway on real PostgreSQL, listening on loopback: WebSocket routes fetched as plain
// HTTP say how to connect, in the envelope, and still accept a real upgrade.
const gw = useGatewayFixture({ listen: true });
let admin: string;
let url: string;

beforeAll(() => {
  ({ admin, url } = gw);
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
