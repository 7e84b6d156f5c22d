import type { EventInput, KubeApi } from "../kubernetes/kube-api.js";

/** One worker pod: its name is the worker's id (the chart sets AETHERIUM_WORKER_ID from it). */
export interface PoolMember {
  readonly pod: string;
  readonly node: string | undefined;
  readonly annotations: Readonly<Record<string, string>>;
}

/** Annotation the manager puts on a pod whose worker it drained for removal. */
export const DRAIN_ANNOTATION = "aetherium.dev/drain-requested";
/** The ReplicaSet controller removes the pod with the lowest cost first. */
export const DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost";

/**
 * Where worker pods run and how their number changes: a Deployment's replicas, or a DaemonSet's
 * labelled nodes. The scaler decides; the pool carries the decision out.
 */
export interface WorkerPool {
  /** The object events are recorded against (the Deployment or the DaemonSet). */
  involved(): Promise<EventInput["involved"]>;
  /** Workers the pool is asked to run now. */
  wanted(): Promise<number>;
  /** The worker pods that exist. */
  members(): Promise<PoolMember[]>;
  /** Asks for `count` workers (more than now); returns how many it could ask for. */
  grow(count: number): Promise<number>;
  /** Removes this one member (already drained and empty) and lowers the wanted count by one. */
  remove(member: PoolMember): Promise<void>;
  /** Marks or unmarks a member as drained by the manager. */
  markDraining(member: PoolMember, draining: boolean): Promise<void>;
}

const toMembers = (pods: Awaited<ReturnType<KubeApi["listPods"]>>): PoolMember[] =>
  pods
    .filter((p) => p.metadata?.name && !p.metadata.deletionTimestamp)
    .map((p) => ({
      pod: p.metadata!.name!,
      node: p.spec?.nodeName,
      annotations: p.metadata?.annotations ?? {},
    }));

/**
 * Workers as a Deployment. Removing one worker sets the lowest pod-deletion-cost on exactly that
 * pod and then lowers replicas by one, so the ReplicaSet controller deletes the drained pod and
 * not another that holds sandboxes.
 */
export class DeploymentPool implements WorkerPool {
  readonly #api: KubeApi;
  readonly #namespace: string;
  readonly #name: string;

  constructor(api: KubeApi, namespace: string, name: string) {
    this.#api = api;
    this.#namespace = namespace;
    this.#name = name;
  }

  async involved(): Promise<EventInput["involved"]> {
    const { uid } = await this.#api.deploymentScale(this.#namespace, this.#name);
    return {
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: this.#name,
      namespace: this.#namespace,
      ...(uid ? { uid } : {}),
    };
  }

  async wanted(): Promise<number> {
    return (await this.#api.deploymentScale(this.#namespace, this.#name)).replicas;
  }

  async members(): Promise<PoolMember[]> {
    const { selector } = await this.#api.deploymentScale(this.#namespace, this.#name);
    return toMembers(await this.#api.listPods(this.#namespace, selector));
  }

  async grow(count: number): Promise<number> {
    await this.#api.scaleDeployment(this.#namespace, this.#name, count);
    return count;
  }

  async remove(member: PoolMember): Promise<void> {
    await this.#api.annotatePod(this.#namespace, member.pod, {
      [DELETION_COST_ANNOTATION]: "-2147483647",
    });
    const replicas = await this.wanted();
    await this.#api.scaleDeployment(this.#namespace, this.#name, Math.max(0, replicas - 1));
  }

  markDraining(member: PoolMember, draining: boolean): Promise<void> {
    return this.#api.annotatePod(this.#namespace, member.pod, {
      [DRAIN_ANNOTATION]: draining ? new Date().toISOString() : null,
    });
  }
}

/**
 * Workers as a DaemonSet on labelled nodes: one worker per node carrying the DaemonSet's node
 * selector. Growing labels more candidate nodes (those matching `candidates`, KVM nodes first
 * when asked); removing a worker takes the label off its node, and the DaemonSet controller
 * deletes the pod.
 */
export class DaemonSetPool implements WorkerPool {
  readonly #api: KubeApi;
  readonly #namespace: string;
  readonly #name: string;
  readonly #candidates: string;
  readonly #preferLabel: string | undefined;

  constructor(
    api: KubeApi,
    namespace: string,
    name: string,
    options: { candidates: string; preferLabel?: string },
  ) {
    this.#api = api;
    this.#namespace = namespace;
    this.#name = name;
    this.#candidates = options.candidates;
    this.#preferLabel = options.preferLabel;
  }

  async involved(): Promise<EventInput["involved"]> {
    const { uid } = await this.#api.daemonSet(this.#namespace, this.#name);
    return {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      name: this.#name,
      namespace: this.#namespace,
      ...(uid ? { uid } : {}),
    };
  }

  async #workerLabel(): Promise<[string, string]> {
    const { nodeSelector } = await this.#api.daemonSet(this.#namespace, this.#name);
    const entries = Object.entries(nodeSelector);
    if (entries.length !== 1) {
      throw new Error(
        `DaemonSet ${this.#namespace}/${this.#name} needs exactly one nodeSelector label to scale by; it has ${entries.length}`,
      );
    }
    return entries[0]!;
  }

  async wanted(): Promise<number> {
    const [k, v] = await this.#workerLabel();
    return (await this.#api.nodesMatching(`${k}=${v}`)).length;
  }

  async members(): Promise<PoolMember[]> {
    const { selector } = await this.#api.daemonSet(this.#namespace, this.#name);
    return toMembers(await this.#api.listPods(this.#namespace, selector));
  }

  async grow(count: number): Promise<number> {
    const [k, v] = await this.#workerLabel();
    const candidates = await this.#api.nodesMatching(this.#candidates);
    const labelled = candidates.filter((n) => n.metadata?.labels?.[k] === v);
    const free = candidates
      .filter((n) => n.metadata?.labels?.[k] !== v && !n.spec?.unschedulable)
      .sort((a, b) => {
        const p = (n: typeof a) =>
          this.#preferLabel && n.metadata?.labels?.[this.#preferLabel] === "true" ? 0 : 1;
        return p(a) - p(b) || (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? "");
      });
    const add = free.slice(0, Math.max(0, count - labelled.length));
    for (const n of add) await this.#api.labelNode(n.metadata!.name!, k, v);
    return labelled.length + add.length;
  }

  async remove(member: PoolMember): Promise<void> {
    if (!member.node) throw new Error(`pod ${member.pod} has no node yet`);
    const [k] = await this.#workerLabel();
    await this.#api.labelNode(member.node, k, null);
  }

  markDraining(member: PoolMember, draining: boolean): Promise<void> {
    return this.#api.annotatePod(this.#namespace, member.pod, {
      [DRAIN_ANNOTATION]: draining ? new Date().toISOString() : null,
    });
  }
}
