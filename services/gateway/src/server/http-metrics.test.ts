import { describe, expect, it } from "vitest";
import { useGatewayFixture } from "../testing/gateway-fixture.js";

const gw = useGatewayFixture();
const call = gw.call;

describe("metrics", () => {
  it("serves Prometheus metrics openly, labelled by route pattern, never by id", async () => {
    await call("GET", "/api/v1/vms/some-id-123");
    const res = await gw.app.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/text\/plain/);
    expect(res.body).toMatch(
      /aetherium_http_request_duration_seconds_count\{[^}]*route="\/api\/v1\/vms\/:id"/,
    );
    expect(res.body).not.toContain("some-id-123");
  });
});
