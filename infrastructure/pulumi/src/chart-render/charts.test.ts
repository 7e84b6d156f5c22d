import { fileURLToPath } from "node:url";
import { DaemonSet, Deployment } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import {
  ClusterRole,
  ClusterRoleBinding,
  Role,
  RoleBinding,
} from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { Service, ServiceAccount } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import {
  renderChart,
  renderUmbrella,
  ValuesSchemaError,
  type RenderedObject,
} from "./render-chart.js";

// The charts in infrastructure/helm, rendered with the template subset renderer and every object
// checked against the Kubernetes OpenAPI schemas (kubernetes-models), then their wiring checked.
const helm = (chart: string) => fileURLToPath(new URL(`../../../helm/${chart}`, import.meta.url));
const release = { name: "aet", namespace: "aetherium" };

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment,
  "apps/v1/DaemonSet": DaemonSet,
  "batch/v1/Job": Job,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
};

/** Validates every object against its Kubernetes schema; an unknown kind fails the test. */
function validateAll(objects: readonly RenderedObject[]) {
  for (const { source, object } of objects) {
    const Model = MODELS[`${object.apiVersion}/${object.kind}`];
    if (!Model)
      throw new Error(`${source}: no schema check for ${object.apiVersion} ${object.kind}`);
    expect(() => new Model(object as never).validate(), source).not.toThrow();
  }
}

type Obj = RenderedObject["object"];
interface Container {
  name: string;
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string } };
  }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string } };
  livenessProbe?: { httpGet?: { path: string; port: string }; tcpSocket?: { port: string } };
  startupProbe?: { httpGet?: { path: string; port: string } };
  resources?: { requests?: Record<string, string> };
  securityContext?: Record<string, unknown>;
}
interface PodSpec {
  containers: Container[];
  serviceAccountName?: string;
  nodeSelector?: Record<string, string>;
  volumes?: { name: string; hostPath?: { path: string } }[];
}
const find = (objs: readonly RenderedObject[], kind: string, name: string): Obj => {
  const o = objs.find((x) => x.object.kind === kind && x.object.metadata.name === name);
  if (!o)
    throw new Error(
      `no ${kind} ${name} among ${objs.map((x) => `${x.object.kind}/${x.object.metadata.name}`).join(", ")}`,
    );
  return o.object;
};
const pod = (o: Obj) =>
  (o.spec as { template: { spec: PodSpec; metadata: { labels: Record<string, string> } } })
    .template;
const env = (c: Container, name: string) => c.env?.find((e) => e.name === name);

describe("each chart on its own", () => {
  it.each(["gateway", "worker", "k8s-manager"])(
    "%s renders valid Kubernetes objects from its defaults",
    (chart) => {
      const objects = renderChart(helm(chart), release);
      expect(objects.length).toBeGreaterThan(0);
      validateAll(objects);
    },
  );

  it("refuses values its schema forbids, naming each problem", () => {
    expect(() => renderChart(helm("worker"), release, { kind: "Pod" })).toThrow(ValuesSchemaError);
    expect(() => renderChart(helm("gateway"), release, { replicaCount: 0 })).toThrow(
      /replicaCount/,
    );
    expect(() => renderChart(helm("gateway"), release, { replicas: 3 })).toThrow(
      /additional properties/,
    );
    expect(() =>
      renderChart(helm("gateway"), release, { global: { secretName: "Not_A_Name" } }),
    ).toThrow(/secretName/);
    expect(() =>
      renderChart(helm("k8s-manager"), release, {
        workers: { kind: "Deployment", min: 1, max: 0 },
      }),
    ).toThrow(/max/);
    // A DaemonSet scales by labelling nodes, so it needs exactly one label to select them by.
    expect(() => renderChart(helm("worker"), release, { kind: "DaemonSet" })).toThrow(
      /nodeSelector/,
    );
  });
});

describe("the umbrella chart", () => {
  const objects = renderUmbrella(helm("aetherium"), release);

  it("renders every service's objects, all valid", () => {
    validateAll(objects);
    expect(objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`).sort()).toEqual([
      "ClusterRole/aetherium-aet-k8s-manager",
      "ClusterRoleBinding/aetherium-aet-k8s-manager",
      "Deployment/aet-gateway",
      "Deployment/aet-k8s-manager",
      "Deployment/aet-worker",
      "Job/aet-gateway-migrate",
      "PodDisruptionBudget/aet-gateway",
      "PodDisruptionBudget/aet-k8s-manager",
      "PodDisruptionBudget/aet-worker",
      "Role/aet-k8s-manager",
      "RoleBinding/aet-k8s-manager",
      "Service/aet-gateway",
      "Service/aet-k8s-manager",
      "ServiceAccount/aet-k8s-manager",
    ]);
  });

  it("selects its own pods: Deployments, Services and PDBs agree on labels", () => {
    for (const name of ["aet-gateway", "aet-worker", "aet-k8s-manager"]) {
      const d = find(objects, "Deployment", name);
      const labels = pod(d).metadata.labels;
      const selector = (d.spec as { selector: { matchLabels: Record<string, string> } }).selector
        .matchLabels;
      expect(labels).toMatchObject(selector);
      const pdb = find(objects, "PodDisruptionBudget", name);
      expect((pdb.spec as { selector: { matchLabels: unknown } }).selector.matchLabels).toEqual(
        selector,
      );
    }
    const svc = find(objects, "Service", "aet-gateway").spec as {
      selector: Record<string, string>;
      ports: { targetPort: string }[];
    };
    const gw = pod(find(objects, "Deployment", "aet-gateway"));
    expect(gw.metadata.labels).toMatchObject(svc.selector);
    expect(gw.spec.containers[0]!.ports!.map((p) => p.name)).toContain(svc.ports[0]!.targetPort);
  });

  it("probes the real health endpoints on named ports", () => {
    const gw = pod(find(objects, "Deployment", "aet-gateway")).spec.containers[0]!;
    expect(gw.readinessProbe?.httpGet).toEqual({ path: "/api/v1/health", port: "http" });
    expect(gw.startupProbe?.httpGet).toEqual({ path: "/api/v1/health", port: "http" });
    expect(gw.livenessProbe?.tcpSocket).toEqual({ port: "http" });
    const worker = pod(find(objects, "Deployment", "aet-worker")).spec.containers[0]!;
    expect(worker.readinessProbe?.httpGet).toEqual({ path: "/healthz", port: "internal" });
    expect(worker.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "internal" });
    const manager = pod(find(objects, "Deployment", "aet-k8s-manager")).spec.containers[0]!;
    expect(manager.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    expect(manager.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    for (const c of [gw, worker, manager]) expect(c.resources?.requests).toBeDefined();
    // Migrations run once per install/upgrade as a hook, with the same image and database.
    const job = find(objects, "Job", "aet-gateway-migrate");
    expect(job.metadata).toMatchObject({
      annotations: { "helm.sh/hook": "pre-install,pre-upgrade" },
    });
    const migrate = pod(job).spec.containers[0] as Container & { args: string[]; image: string };
    expect(migrate.args).toEqual(["migrate", "up"]);
    expect(migrate.image).toBe((gw as unknown as { image: string }).image);
    expect(env(migrate, "AETHERIUM_DATABASE_URL")?.valueFrom?.secretKeyRef?.key).toBe(
      "database-url",
    );
  });

  it("references secrets from the Secret and never inlines a value", () => {
    const secretVars = [
      "AETHERIUM_DATABASE_URL",
      "AETHERIUM_REDIS_URL",
      "AETHERIUM_API_KEY",
      "AETHERIUM_ENCRYPTION_KEY",
    ];
    for (const name of ["aet-gateway", "aet-worker", "aet-k8s-manager"]) {
      for (const c of pod(find(objects, "Deployment", name)).spec.containers) {
        for (const e of c.env ?? []) {
          if (!secretVars.includes(e.name)) continue;
          expect(e.value, `${name} ${e.name}`).toBeUndefined();
          expect(e.valueFrom?.secretKeyRef?.name).toBe("aetherium");
        }
      }
    }
    const gw = pod(find(objects, "Deployment", "aet-gateway")).spec.containers[0]!;
    expect(env(gw, "AETHERIUM_DATABASE_URL")?.valueFrom?.secretKeyRef).toEqual({
      name: "aetherium",
      key: "database-url",
    });
  });

  it("wires the manager to its ServiceAccount, RBAC, the gateway Service and the worker Deployment", () => {
    const spec = pod(find(objects, "Deployment", "aet-k8s-manager")).spec;
    expect(spec.serviceAccountName).toBe("aet-k8s-manager");
    for (const kind of ["RoleBinding", "ClusterRoleBinding"]) {
      const name = kind === "RoleBinding" ? "aet-k8s-manager" : "aetherium-aet-k8s-manager";
      const b = find(objects, kind, name) as Obj & {
        subjects: unknown[];
        roleRef: { name: string };
      };
      expect(b.subjects).toEqual([
        { kind: "ServiceAccount", name: "aet-k8s-manager", namespace: "aetherium" },
      ]);
      expect(b.roleRef.name).toBe(name);
    }
    const rules = (
      find(objects, "Role", "aet-k8s-manager") as Obj & {
        rules: { resources: string[]; verbs: string[]; resourceNames?: string[] }[];
      }
    ).rules;
    expect(rules).toContainEqual({
      apiGroups: ["apps"],
      resources: ["deployments/scale"],
      resourceNames: ["aet-worker"],
      verbs: ["get", "patch"],
    });
    const c = spec.containers[0]!;
    const svc = find(objects, "Service", "aet-gateway").spec as { ports: { port: number }[] };
    expect(env(c, "AETHERIUM_URL")?.value).toBe(`http://aet-gateway:${svc.ports[0]!.port}`);
    expect(env(c, "AETHERIUM_MANAGER_WORKER_NAME")?.value).toBe("aet-worker");
    expect(env(c, "AETHERIUM_MANAGER_WORKER_KIND")?.value).toBe("Deployment");
    // The worker's id is its pod's name, which is how the manager finds a pod's worker.
    const w = pod(find(objects, "Deployment", "aet-worker")).spec.containers[0]!;
    expect(env(w, "AETHERIUM_WORKER_ID")).toMatchObject({
      valueFrom: { fieldRef: { fieldPath: "metadata.name" } },
    });
  });

  it("shares global values: one image tag and one Secret name reach every service", () => {
    const objs = renderUmbrella(helm("aetherium"), release, {
      global: { imageTag: "1.2.3", imageRegistry: "registry.internal", secretName: "aet-prod" },
    });
    validateAll(objs);
    const images = objs
      .filter((o) => o.object.kind === "Deployment")
      .map((o) => pod(o.object).spec.containers[0]!)
      .map((c) => ({
        image: (c as unknown as { image: string }).image,
        secret: env(c, "AETHERIUM_DATABASE_URL")?.valueFrom?.secretKeyRef?.name,
      }));
    expect(images).toEqual(
      expect.arrayContaining([
        { image: "registry.internal/aetherium/gateway:1.2.3", secret: "aet-prod" },
        { image: "registry.internal/aetherium/worker:1.2.3", secret: "aet-prod" },
      ]),
    );
    expect(images.find((i) => i.image.includes("k8s-manager"))?.image).toBe(
      "registry.internal/aetherium/k8s-manager:1.2.3",
    );
  });

  it("runs workers as a DaemonSet on labelled KVM nodes when asked, and leaves a disabled service out", () => {
    const objs = renderUmbrella(helm("aetherium"), release, {
      worker: { kind: "DaemonSet", kvm: true, nodeSelector: { "aetherium.dev/worker": "true" } },
      "k8s-manager": {
        workers: { kind: "DaemonSet", min: 1, max: 4, candidateNodes: "aetherium.dev/kvm=true" },
      },
      gateway: { enabled: false },
    });
    validateAll(objs);
    const ds = find(objs, "DaemonSet", "aet-worker");
    const spec = pod(ds).spec;
    expect(spec.nodeSelector).toEqual({ "aetherium.dev/worker": "true" });
    expect(spec.volumes?.map((v) => v.hostPath?.path)).toEqual([
      "/var/run/docker.sock",
      "/dev/kvm",
    ]);
    expect((ds.spec as Record<string, unknown>).replicas).toBeUndefined();
    expect(objs.some((o) => o.source.startsWith("gateway/"))).toBe(false);
    const m = pod(find(objs, "Deployment", "aet-k8s-manager")).spec.containers[0]!;
    expect(env(m, "AETHERIUM_MANAGER_CANDIDATE_NODES")?.value).toBe("aetherium.dev/kvm=true");
  });
});
