import { describe, expect, it } from "vitest";
import { expectEnvelope, useGatewayFixture } from "../testing/gateway-fixture.js";

// A real gateway on real PostgreSQL: every request but health needs a key of enough scope.
const gw = useGatewayFixture();
const call = gw.call;

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
});
