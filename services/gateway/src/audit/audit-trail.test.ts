import { describe, expect, it } from "vitest";
import { useGatewayFixture } from "../testing/gateway-fixture.js";

const gw = useGatewayFixture();
const call = gw.call;

describe("the audit trail", () => {
  it("writes an audit row for each mutating call, without bodies", async () => {
    const r = await call("POST", "/api/v1/vms", {
      body: { name: "audited", env: { TOKEN: "s3cret-value" } },
      headers: { "x-request-id": "audit-req-1" },
    });
    expect(r.status).toBe(202);
    // The row is written after the response is sent.
    let rows: Awaited<ReturnType<typeof gw.runtime.repos.auditLog.list>>["items"] = [];
    for (let i = 0; i < 50 && rows.length === 0; i++) {
      rows = (await gw.runtime.repos.auditLog.list()).items.filter(
        (a) => a.requestId === "audit-req-1",
      );
      if (rows.length === 0) await new Promise((res) => setTimeout(res, 20));
    }
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: "POST /api/v1/vms",
      statusCode: 202,
      resourceType: "vms",
    });
    expect(rows[0]?.actorKeyId).toBeTruthy();
    expect(JSON.stringify(rows[0])).not.toContain("s3cret-value");
  });
});
