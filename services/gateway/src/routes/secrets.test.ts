import { describe, expect, it } from "vitest";
import { useGatewayFixture } from "../testing/gateway-fixture.js";

const gw = useGatewayFixture();
const call = gw.call;
const VALUE = "ghp_Secr3tValue/with+odd=chars";

describe("global secrets", () => {
  it("are write-only: stored encrypted, listed by name, never returned, changes audited", async () => {
    const made = await call("POST", "/api/v1/secrets", {
      body: { name: "GH_TOKEN", value: VALUE, type: "token", description: "CI token" },
    });
    expect(made.status).toBe(201);
    expect(made.body.secret).toMatchObject({
      name: "GH_TOKEN",
      scope: "global",
      workspaceId: null,
      type: "token",
      keyId: expect.stringMatching(/^k-[0-9a-f]{16}$/),
    });
    const listed = await call("GET", "/api/v1/secrets");
    const items = listed.body.items as { name: string }[];
    expect(items.map((s) => s.name)).toEqual(["GH_TOKEN"]);
    for (const answer of [made, listed])
      expect(JSON.stringify(answer.body)).not.toContain("Secr3t");

    // Replacing keeps one secret of that name.
    const again = await call("POST", "/api/v1/secrets", {
      body: { name: "GH_TOKEN", value: "second-value-xyz" },
    });
    expect(again.status).toBe(201);
    expect((await call("GET", "/api/v1/secrets")).body.items).toHaveLength(1);

    const db = gw.runtime.db.db;
    const rows = await db.selectFrom("workspaceSecrets").selectAll().execute();
    const raw = rows
      .map((r) => `${JSON.stringify(r)} ${r.encryptedValue.toString("latin1")}`)
      .join("\n");
    expect(raw).not.toContain("second-value");
    expect(raw).not.toContain("Secr3t");

    const audit = await gw.runtime.repos.auditLog.list({ action: "secret.set" });
    expect(audit.items.length).toBeGreaterThanOrEqual(2);
    expect(audit.items[0]!.details).toEqual({ names: ["GH_TOKEN"] });
    expect(JSON.stringify(audit.items)).not.toContain("Secr3t");

    expect((await call("DELETE", "/api/v1/secrets/GH_TOKEN")).status).toBe(204);
    const gone = await call("DELETE", "/api/v1/secrets/GH_TOKEN");
    expect(gone.status).toBe(404);
    expect(gone.body.error.message).toMatch(/GH_TOKEN/);
  });

  it("refuses bad names and values with 400s that do not echo the value", async () => {
    const badName = await call("POST", "/api/v1/secrets", {
      body: { name: "gh-token", value: VALUE },
    });
    expect(badName.status).toBe(400);
    expect(badName.body.error.message).toMatch(/POSIX/);
    expect(JSON.stringify(badName.body)).not.toContain("Secr3t");
    const empty = await call("POST", "/api/v1/secrets", { body: { name: "A" } });
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/value/);
    const reader = await gw.key("secret-reader", ["read"]);
    const denied = await call("POST", "/api/v1/secrets", {
      key: reader.secret,
      body: { name: "A", value: "b" },
    });
    expect(denied.status).toBe(403);
  });

  it("reach a workspace as values, its own overriding global ones, each use audited by name", async () => {
    const { secrets } = gw.runtime;
    const ws = await gw.runtime.db.db
      .insertInto("workspaces")
      .values({ name: "ws-secrets" })
      .returning("id")
      .executeTakeFirstOrThrow();
    await call("POST", "/api/v1/secrets", { body: { name: "SHARED", value: "global-one" } });
    await call("POST", "/api/v1/secrets", { body: { name: "ONLY_GLOBAL", value: "g" } });
    const owner = { tenant: "default", workspaceId: ws.id };
    await secrets.set(owner, { name: "SHARED", value: "workspace-one" });
    expect(await secrets.values("default", ws.id, "test")).toEqual({
      SHARED: "workspace-one",
      ONLY_GLOBAL: "g",
    });
    expect(await secrets.values("default", ws.id, "clone", ["ONLY_GLOBAL"])).toEqual({
      ONLY_GLOBAL: "g",
    });
    const uses = await gw.runtime.repos.auditLog.list({ action: "secret.used", resourceId: ws.id });
    expect(uses.items.map((u) => u.details)).toEqual([
      { names: ["ONLY_GLOBAL"], purpose: "clone" },
      { names: ["ONLY_GLOBAL", "SHARED"], purpose: "test" },
    ]);
    expect(JSON.stringify(uses.items)).not.toContain("workspace-one");
    // A ciphertext copied to another row does not open there.
    const db = gw.runtime.db.db;
    const global = await db
      .selectFrom("workspaceSecrets")
      .select(["encryptedValue", "nonce"])
      .where("name", "=", "SHARED")
      .where("workspaceId", "is", null)
      .executeTakeFirstOrThrow();
    await db
      .updateTable("workspaceSecrets")
      .set({ encryptedValue: global.encryptedValue, nonce: global.nonce })
      .where("workspaceId", "=", ws.id)
      .where("name", "=", "SHARED")
      .execute();
    await expect(secrets.values("default", ws.id, "test")).rejects.toThrow(
      /secret SHARED cannot be read/,
    );
    await db.deleteFrom("workspaces").where("id", "=", ws.id).execute();
  });
});
