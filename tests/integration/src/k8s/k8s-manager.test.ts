import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, loadConfig } from "@aetherium/common";
import { DataPlaneClient, openControlPlane, type ControlPlane } from "@aetherium/core";
import { buildServer, ensureBootstrapKey } from "@aetherium/gateway";
import { loadManagerConfig, openManager, type Manager } from "@aetherium/k8s-manager";
import { AetheriumClient } from "@aetherium/sdk";
import {
  startFakeKubernetesApiServer,
  useTestDatabase,
  useTestRedis,
  type FakeKubernetesApiServer,
  TEST_ENCRYPTION_KEY,
} from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The manager against a real gateway (PostgreSQL, Redis, the HTTP API) for the fleet side and the
// fake Kubernetes API server for the cluster side. Worker pods the fake's ReplicaSet stand-in
// makes register as worker rows under the pod's name (as the chart's AETHERIUM_WORKER_ID does),
// and the rows of deleted pods go offline; the workers' load is set through their heartbeat.
const db = useTestDatabase();
const redis = useTestRedis();
const logger = createLogger({ level: "silent", service: "k8s-manager-test" });
const NS = "aet-k8s";
let home: string;
let runtime: ControlPlane;
let app: Awaited<ReturnType<typeof buildServer>>;
let gatewayUrl: string;
let admin: string;
let client: AetheriumClient;
let fake: FakeKubernetesApiServer;
const managers: Manager[] = [];

async function manager(identity: string, extra: Record<string, string> = {}) {
  const config = loadManagerConfig({
    AETHERIUM_URL: gatewayUrl,
    AETHERIUM_API_KEY: admin,
    AETHERIUM_MANAGER_NAMESPACE: NS,
    POD_NAME: identity,
    AETHERIUM_MANAGER_MIN_WORKERS: "1",
    AETHERIUM_MANAGER_MAX_WORKERS: "4",
    AETHERIUM_MANAGER_SANDBOXES_PER_WORKER: "4",
    AETHERIUM_MANAGER_HEADROOM: "0",
    AETHERIUM_MANAGER_PORT: "0",
    ...extra,
  });
  const m = await openManager(config, {
    logger,
    kube: { kind: "server", server: fake.url, token: fake.token },
    host: "127.0.0.1",
    loop: false,
  });
  managers.push(m);
  return m;
}

const pods = () =>
  fake
    .pods(NS)
    .map((p) => p.metadata.name)
    .sort();
const replicas = () =>
  (fake.deployment(NS, "aetherium-worker")?.spec as { replicas: number }).replicas;
const reasons = () => fake.events(NS).map((e) => e.reason as string);
const holds = (worker: string, vms: number) =>
  runtime.repos.workers.heartbeat(worker, { vcpus: vms, memoryMb: vms * 512, vms });
const workerStatus = async (id: string) => (await client.workers.get(id)).status;

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "aet-k8s-manager-"));
  const config = loadConfig({
    env: {
      AETHERIUM_DATABASE_URL: db.current.url,
      AETHERIUM_REDIS_URL: redis.current.url,
      AETHERIUM_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      AETHERIUM_REDIS__KEY_PREFIX: redis.current.prefix,
      AETHERIUM_HOME: home,
    },
  });
  runtime = await openControlPlane(config, { logger, migrate: true });
  admin = (await ensureBootstrapKey(runtime.repos, { home })).secret;
  app = await buildServer({
    logger,
    runtime,
    dataPlane: new DataPlaneClient(),
    health: () => Promise.resolve({ status: "ok", version: "test", components: {} }),
    rateLimit: { max: 10_000, timeWindowMs: 60_000 },
    waitTimeoutMs: 500,
  });
  gatewayUrl = await app.listen({ host: "127.0.0.1", port: 0 });
  client = new AetheriumClient({ url: gatewayUrl, apiKey: admin });

  fake = await startFakeKubernetesApiServer();
  fake.onPodChange(async ({ type, pod }) => {
    const id = pod.metadata.name;
    if (type === "added") {
      await runtime.repos.workers.register({
        id,
        hostname: id,
        address: "http://127.0.0.1:1",
        backends: ["docker"],
        capacity: { vcpus: 4, memoryMb: 8192, maxVms: 4 },
      });
    } else {
      await runtime.repos.workers.setStatus(id, "offline");
    }
  });
}, 60_000);

afterAll(async () => {
  for (const m of managers) await m.close();
  await fake?.close();
  await app?.close();
  await runtime?.close();
  if (home) await rm(home, { recursive: true, force: true });
});

async function until<T>(check: () => Promise<T | false | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("the k8s manager on a Deployment of workers", () => {
  let m: Manager;
  let busy: string;

  it("drains an idle worker through the API before removing its pod, never the busy one", async () => {
    fake.putDeployment({
      namespace: NS,
      name: "aetherium-worker",
      replicas: 3,
      matchLabels: { "app.kubernetes.io/name": "aetherium-worker" },
    });
    const names = await until(async () => {
      const rows = await client.workers.list();
      return rows.items.length === 3 && pods();
    }, "three worker pods to register");
    busy = names[0]!;
    await holds(busy, 2);
    m = await manager("manager-a");

    // 2 sandboxes need 1 worker of 4 slots; 3 run: step down by one, drain first.
    const drain = await m.round();
    expect(drain).toMatchObject({ kind: "drain" });
    const victim = (drain as { worker: string }).worker;
    expect(victim).not.toBe(busy);
    expect(await workerStatus(victim)).toBe("draining");
    expect(replicas()).toBe(3);
    expect(pods()).toContain(victim);
    expect(reasons()).toContain("Draining");

    // A sandbox landed on it before the drain took effect: it waits, and removes nothing.
    await holds(victim, 1);
    expect(await m.round()).toEqual({ kind: "wait-drain", worker: victim, sandboxes: 1 });
    expect(replicas()).toBe(3);
    expect(pods()).toContain(victim);

    // Empty now: exactly that pod goes (lowest deletion cost), the others stay.
    await holds(victim, 0);
    expect(await m.round()).toMatchObject({ kind: "remove", worker: victim, from: 3, to: 2 });
    expect(replicas()).toBe(2);
    expect(pods()).not.toContain(victim);
    expect(pods()).toContain(busy);
    expect(reasons()).toContain("ScaledDown");
    expect(m.metrics.value("aetherium_manager_scale_events_total", { direction: "down" })).toBe(1);
  });

  it("calls a drain off when demand comes back, then scales up at once", async () => {
    const next = await m.round();
    expect(next).toMatchObject({ kind: "drain" });
    const drained = (next as { worker: string }).worker;
    expect(drained).not.toBe(busy);
    expect(await workerStatus(drained)).toBe("draining");

    // 12 sandboxes wait in the queue (nobody consumes it here) + 2 held = 14: 4 workers of 4.
    for (let i = 0; i < 12; i++) await client.vms.create({ name: `queued-${i}` });
    const stats = await client.cluster.stats();
    expect(Object.values(stats.queues).reduce((n, q) => n + q.waiting, 0)).toBe(12);

    expect(await m.round()).toMatchObject({ kind: "cancel-drain", worker: drained });
    expect(await workerStatus(drained)).toBe("active");
    const pod = fake.pods(NS).find((p) => p.metadata.name === drained);
    expect(pod?.metadata.annotations?.["aetherium.dev/drain-requested"]).toBeUndefined();

    expect(await m.round()).toMatchObject({ kind: "scale-up", from: 2, to: 4 });
    expect(replicas()).toBe(4);
    expect(pods()).toHaveLength(4);
    expect(reasons()).toEqual(expect.arrayContaining(["DrainCancelled", "ScaledUp"]));
    const scaled = fake.events(NS).find((e) => e.reason === "ScaledUp");
    expect(scaled?.involvedObject).toMatchObject({ kind: "Deployment", name: "aetherium-worker" });
    // The scale went through the scale subresource as a merge patch.
    expect(
      fake.requests.some(
        (r) =>
          r.method === "PATCH" &&
          r.path === `/apis/apps/v1/namespaces/${NS}/deployments/aetherium-worker/scale` &&
          r.contentType === "application/merge-patch+json",
      ),
    ).toBe(true);

    const text = await (await fetch(`${m.url}/metrics`)).text();
    expect(text).toContain("aetherium_manager_workers_desired 4");
    expect(text).toContain("aetherium_manager_queue_depth 12");
    expect(text).toContain("aetherium_manager_leader 1");
    expect(text).toContain('aetherium_manager_scale_events_total{direction="up"} 1');
  });

  it("a second replica follows: it neither scales nor drains while the first holds the Lease", async () => {
    const second = await manager("manager-b");
    const before = fake.requests.length;
    expect(await second.round()).toBeUndefined();
    const writes = fake.requests
      .slice(before)
      .filter((r) => r.method !== "GET" && !r.path.includes("/leases"));
    expect(writes).toEqual([]);
    const text = await (await fetch(`${second.url}/metrics`)).text();
    expect(text).toContain("aetherium_manager_leader 0");
    expect((await fetch(`${second.url}/readyz`)).status).toBe(200);
  });
});

describe("the k8s manager on a DaemonSet on labelled nodes", () => {
  it("gives more nodes the worker label when demand grows, KVM nodes first", async () => {
    const ns = "aet-k8s-ds";
    fake.putNode({
      name: "ds-a",
      labels: { "aetherium.dev/pool": "workers", "aetherium.dev/worker": "true" },
    });
    fake.putNode({ name: "ds-b", labels: { "aetherium.dev/pool": "workers" } });
    fake.putNode({
      name: "ds-c",
      labels: { "aetherium.dev/pool": "workers" },
      allocatable: { "devices.kubevirt.io/kvm": "1k" },
    });
    fake.putNode({ name: "ds-other" });
    fake.putDaemonSet({
      namespace: ns,
      name: "aetherium-worker",
      matchLabels: { "app.kubernetes.io/name": "aetherium-worker-ds" },
      nodeSelector: { "aetherium.dev/worker": "true" },
    });
    const ds = await manager("manager-ds", {
      AETHERIUM_MANAGER_NAMESPACE: ns,
      AETHERIUM_MANAGER_WORKER_KIND: "DaemonSet",
      AETHERIUM_MANAGER_CANDIDATE_NODES: "aetherium.dev/pool=workers",
      AETHERIUM_MANAGER_LEASE_NAME: "aetherium-k8s-manager-ds",
      AETHERIUM_MANAGER_MAX_WORKERS: "2",
    });
    // The queue still holds 12 sandboxes: far more than one node; capped at 2 workers.
    const action = await ds.round();
    expect(action).toMatchObject({ kind: "scale-up", from: 1, to: 2 });
    const label = (n: string) => fake.node(n)?.metadata.labels?.["aetherium.dev/worker"];
    expect(label("ds-c")).toBe("true"); // has /dev/kvm (labelled by the manager), so first
    expect(label("ds-b")).toBeUndefined();
    expect(label("ds-other")).toBeUndefined();
    expect(fake.node("ds-c")?.metadata.labels?.["aetherium.dev/kvm"]).toBe("true");
    expect(
      fake
        .pods(ns)
        .map((p) => (p.spec as { nodeName: string }).nodeName)
        .sort(),
    ).toEqual(["ds-a", "ds-c"]);
    expect(fake.events(ns).find((e) => e.reason === "ScaledUp")?.involvedObject).toMatchObject({
      kind: "DaemonSet",
    });
  });
});
