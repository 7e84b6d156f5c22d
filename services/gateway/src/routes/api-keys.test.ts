import { describe, expect, it } from "vitest";
import { useGatewayFixture } from "../testing/gateway-fixture.js";

const gw = useGatewayFixture();
const call = gw.call;

describe("API keys", () => {
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
    const row = await gw.runtime.repos.apiKeys.get(made.body.apiKey.id);
    expect(row?.keyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(made.body.secret);
  });
});
