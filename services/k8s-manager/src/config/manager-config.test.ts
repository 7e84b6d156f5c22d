import { describe, expect, it } from "vitest";
import { loadManagerConfig } from "./manager-config.js";

const base = { AETHERIUM_URL: "http://aet-gateway:8080", AETHERIUM_API_KEY: "k" };

describe("loadManagerConfig", () => {
  it("reads what the k8s-manager chart sets, with the pod's name and namespace from the downward API", () => {
    const c = loadManagerConfig({
      ...base,
      POD_NAME: "aet-k8s-manager-7d9-x2",
      POD_NAMESPACE: "aetherium",
      AETHERIUM_MANAGER_WORKER_KIND: "DaemonSet",
      AETHERIUM_MANAGER_WORKER_NAME: "aet-worker",
      AETHERIUM_MANAGER_CANDIDATE_NODES: "aetherium.dev/kvm=true",
      AETHERIUM_MANAGER_MIN_WORKERS: "2",
      AETHERIUM_MANAGER_MAX_WORKERS: "20",
      AETHERIUM_MANAGER_HEADROOM: "0.2",
      AETHERIUM_MANAGER_INTERVAL_MS: "15000",
      AETHERIUM_MANAGER_LEASE_NAME: "aetherium-k8s-manager",
      AETHERIUM_MANAGER_LEASE_SECONDS: "15",
      AETHERIUM_MANAGER_PORT: "9090",
      AETHERIUM_MANAGER_LABEL_KVM_NODES: "true",
      AETHERIUM_MANAGER_KVM_LABEL: "aetherium.dev/kvm",
      AETHERIUM_MANAGER_KVM_RESOURCE: "devices.kubevirt.io/kvm",
    });
    expect(c).toMatchObject({
      namespace: "aetherium",
      identity: "aet-k8s-manager-7d9-x2",
      workers: {
        kind: "DaemonSet",
        name: "aet-worker",
        min: 2,
        max: 20,
        candidateNodes: "aetherium.dev/kvm=true",
      },
      lease: { name: "aetherium-k8s-manager", durationSeconds: 15 },
      kvm: { enabled: true, label: "aetherium.dev/kvm" },
      port: 9090,
    });
    expect(c.workers.sandboxesPerWorker).toBeUndefined();
  });

  it("refuses bad settings with one message naming every variable", () => {
    expect(() =>
      loadManagerConfig({
        AETHERIUM_URL: "not a url",
        AETHERIUM_MANAGER_WORKER_KIND: "StatefulSet",
        AETHERIUM_MANAGER_HEADROOM: "2",
      }),
    ).toThrow(
      /AETHERIUM_URL[\s\S]*AETHERIUM_API_KEY[\s\S]*AETHERIUM_MANAGER_WORKER_KIND[\s\S]*AETHERIUM_MANAGER_HEADROOM/,
    );
    expect(() =>
      loadManagerConfig({
        ...base,
        AETHERIUM_MANAGER_MIN_WORKERS: "5",
        AETHERIUM_MANAGER_MAX_WORKERS: "2",
      }),
    ).toThrow(/MIN_WORKERS must not exceed/);
  });
});
