import { describe, expect, it } from "vitest";
import { useGatewayFixture } from "../testing/gateway-fixture.js";

// The real report: database and in-process queue and bus probed, and a fleet of no workers.
const gw = useGatewayFixture();
const call = gw.call;

describe("health", () => {
  it("leaves health open", async () => {
    const r = await call("GET", "/api/v1/health", { key: null });
    expect(r.status).toBe(200);
    // What serves the API is up; with no worker in the fleet the whole is only degraded.
    expect(r.body.components.database.status).toBe("ok");
    expect(r.body.components.queue.status).toBe("ok");
    expect(r.body.components.eventBus.status).toBe("ok");
    expect(r.body.components.workers).toEqual({
      status: "degraded",
      message: "0 of 0 workers healthy",
    });
    expect(r.body.status).toBe("degraded");
  });

  it("reports ok once a healthy worker has joined", async () => {
    await gw.runtime.repos.workers.register({
      id: "w-health",
      hostname: "h",
      address: "http://127.0.0.1:1",
    });
    const r = await call("GET", "/api/v1/health", { key: null });
    expect(r.status).toBe(200);
    expect(r.body.components.workers.message).toBe("1 of 1 workers healthy");
    expect(r.body.status).toBe("ok");
  });
});
