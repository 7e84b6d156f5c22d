import { startFakeKubernetesApiServer, type FakeKubernetesApiServer } from "@aetherium/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KubeApi } from "../kubernetes/kube-api.js";
import { LeaseElector } from "./lease-elector.js";

// Two replicas against one fake Kubernetes API server; time is a number the test moves.
let fake: FakeKubernetesApiServer;
let api: KubeApi;
let clock: number;

const elector = (identity: string, changes: boolean[] = []) =>
  new LeaseElector(api, {
    namespace: "aet",
    name: "aetherium-k8s-manager",
    identity,
    durationSeconds: 15,
    now: () => clock,
    onChange: (l) => changes.push(l),
  });

beforeEach(async () => {
  fake = await startFakeKubernetesApiServer();
  api = new KubeApi({ kind: "server", server: fake.url, token: fake.token });
  clock = 1_000_000;
});
afterEach(async () => {
  await fake.close();
});

describe("LeaseElector", () => {
  it("lets exactly one of two replicas lead, and the other keeps following while it renews", async () => {
    const aChanges: boolean[] = [];
    const a = elector("manager-a", aChanges);
    const b = elector("manager-b");
    const results = await Promise.all([a.tick(), b.tick()]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const leader = results[0] ? a : b;
    const follower = results[0] ? b : a;
    for (let i = 0; i < 5; i++) {
      clock += 5_000;
      expect(await leader.tick()).toBe(true);
      expect(await follower.tick()).toBe(false);
    }
    const lease = fake.lease("aet", "aetherium-k8s-manager");
    expect((lease?.spec as { holderIdentity: string }).holderIdentity).toBe(
      leader === a ? "manager-a" : "manager-b",
    );
    if (leader === a) expect(aChanges).toEqual([true]);
  });

  it("hands over once the leader stops renewing for longer than the lease", async () => {
    const a = elector("manager-a");
    const b = elector("manager-b");
    expect(await a.tick()).toBe(true);
    expect(await b.tick()).toBe(false);
    clock += 10_000; // a is silent, but not for a whole lease yet
    expect(await b.tick()).toBe(false);
    clock += 6_000;
    expect(await b.tick()).toBe(true);
    const spec = fake.lease("aet", "aetherium-k8s-manager")?.spec as {
      holderIdentity: string;
      leaseTransitions: number;
    };
    expect(spec).toMatchObject({ holderIdentity: "manager-b", leaseTransitions: 1 });
    // The old leader finds out on its next round and steps down instead of fighting.
    expect(await a.tick()).toBe(false);
  });

  it("gives the lease up on release so a follower takes over without waiting", async () => {
    const a = elector("manager-a");
    const b = elector("manager-b");
    expect(await a.tick()).toBe(true);
    await a.release();
    expect(a.leading).toBe(false);
    expect(await b.tick()).toBe(true);
  });

  it("a leader that cannot reach the API server steps down after the renew deadline", async () => {
    const changes: boolean[] = [];
    const a = elector("manager-a", changes);
    expect(await a.tick()).toBe(true);
    fake.failNext("GET", "/apis/coordination.k8s.io/", 500, 10);
    clock += 5_000;
    expect(await a.tick()).toBe(true); // within the deadline: still leads
    clock += 6_000;
    await expect(a.tick()).rejects.toThrow();
    expect(changes).toEqual([true, false]);
  });
});
