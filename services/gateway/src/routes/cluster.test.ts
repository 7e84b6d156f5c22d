import { clusterStatsSchema } from "@aetherium/types";
import { describe, expect, it } from "vitest";
import { useGatewayFixture } from "../testing/gateway-fixture.js";

const gw = useGatewayFixture();
const call = gw.call;

describe("cluster and workers", () => {
  it("reports cluster stats and an empty fleet honestly", async () => {
    expect((await call("POST", "/api/v1/vms", { body: { name: "counted" } })).status).toBe(202);
    const stats = clusterStatsSchema.parse((await call("GET", "/api/v1/cluster/stats")).body);
    expect(stats.workers.total).toBe(0);
    expect(stats.vms.pending).toBeGreaterThan(0);
    const workers = await call("GET", "/api/v1/workers");
    expect(workers.body).toEqual({ items: [], nextCursor: null });
  });
});
