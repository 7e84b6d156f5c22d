import { createLogger } from "@aetherium/common";
import { startFakeKubernetesApiServer, type FakeKubernetesApiServer } from "@aetherium/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KubeApi } from "../kubernetes/kube-api.js";
import { ManagerMetrics } from "../observability/manager-metrics.js";
import { KvmNodeLabeler } from "./kvm-node-labeler.js";

let fake: FakeKubernetesApiServer;
let labeler: KvmNodeLabeler;
let metrics: ManagerMetrics;
const logger = createLogger({ service: "kvm-labeler-test", level: "silent" });

const label = (node: string) => fake.node(node)?.metadata.labels?.["aetherium.dev/kvm"];

async function until(check: () => boolean, what: string) {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeEach(async () => {
  fake = await startFakeKubernetesApiServer();
  metrics = new ManagerMetrics();
  const api = new KubeApi({ kind: "server", server: fake.url, token: fake.token });
  labeler = new KvmNodeLabeler(
    api,
    {
      label: "aetherium.dev/kvm",
      resource: "devices.kubevirt.io/kvm",
      rewatchDelayMs: 50,
      eventNamespace: "aet",
    },
    logger,
    metrics,
  );
});
afterEach(async () => {
  labeler.stop();
  await fake.close();
});

describe("KvmNodeLabeler", () => {
  it("labels nodes that advertise the KVM device and unlabels those that do not", async () => {
    fake.putNode({ name: "metal-1", allocatable: { "devices.kubevirt.io/kvm": "1k" } });
    fake.putNode({ name: "cloud-1" });
    // A stale label from an earlier life of the node: it no longer offers KVM.
    fake.putNode({ name: "cloud-2", labels: { "aetherium.dev/kvm": "true" } });
    await labeler.start();
    expect(label("metal-1")).toBe("true");
    expect(label("cloud-1")).toBeUndefined();
    expect(label("cloud-2")).toBeUndefined();
    expect(labeler.kvmNodes).toEqual(["metal-1"]);
    expect(metrics.value("aetherium_manager_kvm_nodes")).toBe(1);
    expect(
      fake.events("aet").map((e) => [e.reason, (e.involvedObject as { name: string }).name]),
    ).toEqual([
      ["KvmLabelled", "metal-1"],
      ["KvmUnlabelled", "cloud-2"],
    ]);
    // Labels are written as JSON merge patches on the node.
    expect(fake.requests.filter((r) => r.method === "PATCH").map((r) => r.contentType)).toEqual([
      "application/merge-patch+json",
      "application/merge-patch+json",
    ]);
  });

  it("follows the watch: a node that joins or gains KVM later is labelled, one that loses it is not", async () => {
    fake.putNode({ name: "cloud-1" });
    await labeler.start();
    fake.putNode({ name: "metal-2", allocatable: { "devices.kubevirt.io/kvm": "110" } });
    await until(() => label("metal-2") === "true", "metal-2 to be labelled");
    fake.putNode({ name: "cloud-1", allocatable: { "devices.kubevirt.io/kvm": "1" } });
    await until(() => label("cloud-1") === "true", "cloud-1 to be labelled");
    fake.putNode({ name: "cloud-1", labels: { "aetherium.dev/kvm": "true" } });
    await until(() => label("cloud-1") === undefined, "cloud-1 to lose its label");
    expect(labeler.kvmNodes).toEqual(["metal-2"]);
  });

  it("lists again when the watch ends, and catches up on what changed meanwhile", async () => {
    fake.putNode({ name: "metal-3" });
    await labeler.start();
    fake.endWatches();
    // Changed while no watch is open: only a fresh list can see it.
    fake.putNodeQuietly({ name: "metal-3", allocatable: { "devices.kubevirt.io/kvm": "1" } });
    await until(() => label("metal-3") === "true", "metal-3 to be labelled after the re-list");
    const lists = fake.requests.filter((r) => r.method === "GET" && r.path === "/api/v1/nodes");
    expect(lists.length).toBeGreaterThanOrEqual(3); // list, watch, list again (and watch again)
  });
});
