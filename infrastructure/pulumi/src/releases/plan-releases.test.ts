import { describe, expect, it } from "vitest";
import { planReleases, type StackConfig } from "./plan-releases.js";

const config: StackConfig = {
  namespace: "aetherium",
  imageTag: "0.1.0",
  gatewayReplicas: 2,
  workerNodeSelector: { "aetherium.dev/kvm": "true" },
  databaseUrlSecret: "aetherium-db",
  redisUrl: "redis://redis:6379",
};

describe("planReleases", () => {
  it("plans gateway, worker and k8s-manager releases with the stack's values", () => {
    const plan = planReleases(config);
    expect(plan.map((r) => r.chart)).toEqual(["gateway", "worker", "k8s-manager"]);
    expect(plan[0]?.values).toMatchObject({ replicaCount: 2, image: { tag: "0.1.0" } });
    expect(plan[1]?.values).toMatchObject({
      kind: "DaemonSet",
      nodeSelector: { "aetherium.dev/kvm": "true" },
    });
  });

  it("refuses an invalid namespace or zero gateways", () => {
    expect(() => planReleases({ ...config, namespace: "Not_Valid" })).toThrow(/namespace/);
    expect(() => planReleases({ ...config, gatewayReplicas: 0 })).toThrow(/gatewayReplicas/);
  });
});
