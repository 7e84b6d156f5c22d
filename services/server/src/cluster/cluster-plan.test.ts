import { describe, expect, it } from "vitest";
import { clusterPlan, clusterPorts, clusterUrls, type ClusterSettings } from "./cluster-plan.js";

const settings: ClusterSettings = {
  name: "demo",
  port: 8090,
  version: "0.1.0",
  apiKey: "ak_test",
  encryptionKey: "k".repeat(44),
  postgresPassword: "p/w+d",
  redisPassword: "r:pw",
};
const plan = clusterPlan(settings, {
  sandboxImage: "aetherium/base:0.1.0",
  runDir: "/run/aetherium/clusters/demo",
  heartbeatMs: 500,
  offlineAfterMs: 4000,
});
const byName = (name: string) => plan.find((c) => c.name === name)!;

describe("clusterPlan", () => {
  it("starts the store first, then migrations, workers, gateways and the balancer", () => {
    expect(plan.map((c) => c.name)).toEqual([
      "demo-postgres",
      "demo-redis",
      "demo-migrate",
      "demo-worker-1",
      "demo-worker-2",
      "demo-gateway-1",
      "demo-gateway-2",
      "demo-lb",
    ]);
  });

  it("gives every service its own port after the balancer's, on loopback", () => {
    expect(clusterPorts(8090)).toEqual({
      lb: 8090,
      gateways: [8091, 8092],
      workers: [8093, 8094],
      postgres: 8095,
      redis: 8096,
    });
    expect(byName("demo-lb").env.LB_LISTEN).toBe("127.0.0.1:8090");
    expect(byName("demo-lb").env.LB_UPSTREAMS).toBe("127.0.0.1:8091,127.0.0.1:8092");
    expect(byName("demo-postgres").env.PGLISTEN).toBe("127.0.0.1");
    expect(byName("demo-redis").env.REDIS_BIND).toBe("127.0.0.1");
    for (const c of plan.filter((c) => c.role === "gateway" || c.role === "worker")) {
      expect(c.env.AETHERIUM_HOST).toBe("127.0.0.1");
    }
  });

  it("shares one encryption key, database and Redis between gateways and workers", () => {
    const urls = clusterUrls(settings);
    // Passwords are URL-encoded: '/', '+' and ':' would otherwise break the URL.
    expect(urls.database).toBe("postgres://postgres:p%2Fw%2Bd@127.0.0.1:8095/postgres");
    expect(urls.redis).toBe("redis://:r%3Apw@127.0.0.1:8096");
    for (const c of plan.filter((c) => c.role === "gateway" || c.role === "worker")) {
      expect(c.env.AETHERIUM_ENCRYPTION_KEY).toBe(settings.encryptionKey);
      expect(c.env.AETHERIUM_DATABASE_URL).toBe(urls.database);
      expect(c.env.AETHERIUM_REDIS_URL).toBe(urls.redis);
      expect(c.env.AETHERIUM_WORKER__OFFLINE_AFTER_MS).toBe("4000");
      expect(c.env.AETHERIUM_BASE_IMAGE_TAG).toBe("aetherium/base:0.1.0");
    }
    expect(byName("demo-gateway-1").env.AETHERIUM_API_KEY).toBe("ak_test");
    // Workers never get the admin key.
    expect(byName("demo-worker-1").env.AETHERIUM_API_KEY).toBeUndefined();
  });

  it("mounts the run directory at the same path in the workers, with shared propagation", () => {
    const w = byName("demo-worker-2");
    expect(w.capAdd).toEqual(["SYS_ADMIN", "NET_ADMIN"]);
    expect(w.binds).toContain("/var/run/docker.sock:/var/run/docker.sock");
    expect(w.binds).toContain("/run/aetherium/clusters/demo:/run/aetherium/clusters/demo:rshared");
    expect(w.env.AETHERIUM_SANDBOX__RUN_DIR).toBe("/run/aetherium/clusters/demo");
    expect(w.env.AETHERIUM_WORKER_ID).toBe("demo-worker-2");
    expect(w.env.AETHERIUM_WORKER__INTERNAL_PORT).toBe("8094");
    expect(w.env.AETHERIUM_BASE_IMAGE_TAG).toBe("aetherium/base:0.1.0");
    for (const c of plan.filter((c) => c.role !== "worker")) expect(c.capAdd).toEqual([]);
  });

  it("runs the migrations from the gateway image", () => {
    const m = byName("demo-migrate");
    expect(m.image).toBe("aetherium/gateway:0.1.0");
    expect(m.cmd).toEqual(["migrate", "up"]);
  });
});
