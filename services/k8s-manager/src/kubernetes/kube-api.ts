import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
  Watch,
  type CoreV1Event,
  type V1Lease,
  type V1Node,
  type V1Pod,
} from "@kubernetes/client-node";

/** Where the manager finds the cluster: in-cluster (its ServiceAccount), a kubeconfig, or given. */
export type KubeTarget =
  | { readonly kind: "in-cluster" }
  | { readonly kind: "kubeconfig" }
  | { readonly kind: "server"; readonly server: string; readonly token: string };

/** What a node watch reports. */
export type NodeWatchEvent = "ADDED" | "MODIFIED" | "DELETED";

/** Lease fields the elector reads and writes. */
export interface LeaseRecord {
  readonly holder: string | undefined;
  readonly renewTime: Date | undefined;
  readonly acquireTime: Date | undefined;
  readonly durationSeconds: number;
  readonly transitions: number;
  /** Optimistic-concurrency token: a replace with a stale one fails with a conflict. */
  readonly resourceVersion: string;
}

/** An Event the manager records against an object it acted on. */
export interface EventInput {
  readonly involved: {
    kind: string;
    name: string;
    namespace: string;
    apiVersion: string;
    uid?: string;
  };
  readonly type: "Normal" | "Warning";
  readonly reason: string;
  readonly message: string;
}

/** A Kubernetes API error's HTTP status, or undefined for a transport error. */
export function kubeStatus(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/**
 * The slice of the Kubernetes API the manager uses, over `@kubernetes/client-node`: nodes (list,
 * watch, label), a Deployment's scale subresource, pods (list, annotate), coordination.k8s.io
 * Leases and core/v1 Events. Patches are JSON merge patches throughout.
 */
export class KubeApi {
  readonly #config: KubeConfig;
  readonly #core: CoreV1Api;
  readonly #apps: AppsV1Api;
  readonly #coordination: CoordinationV1Api;
  readonly #component: string;

  constructor(target: KubeTarget, component = "aetherium-k8s-manager") {
    const kc = new KubeConfig();
    if (target.kind === "in-cluster") kc.loadFromCluster();
    else if (target.kind === "kubeconfig") kc.loadFromDefault();
    else {
      kc.loadFromOptions({
        // client-node refuses plain http unless TLS checks are off; an https server keeps them.
        clusters: [
          {
            name: "target",
            server: target.server,
            skipTLSVerify: target.server.startsWith("http:"),
          },
        ],
        users: [{ name: "manager", token: target.token }],
        contexts: [{ name: "target", cluster: "target", user: "manager" }],
        currentContext: "target",
      });
    }
    this.#config = kc;
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#apps = kc.makeApiClient(AppsV1Api);
    this.#coordination = kc.makeApiClient(CoordinationV1Api);
    this.#component = component;
  }

  /** All nodes and the list's resourceVersion, from which a watch continues. */
  async listNodes(): Promise<{ nodes: V1Node[]; resourceVersion: string }> {
    const list = await this.#core.listNode();
    return { nodes: list.items, resourceVersion: list.metadata?.resourceVersion ?? "" };
  }

  /**
   * Watches nodes from `resourceVersion`. `onDone` runs once when the stream ends or fails;
   * the returned controller stops it.
   */
  watchNodes(
    resourceVersion: string,
    onEvent: (type: NodeWatchEvent, node: V1Node) => void,
    onDone: (err?: unknown) => void,
  ): Promise<AbortController> {
    return new Watch(this.#config).watch(
      "/api/v1/nodes",
      { resourceVersion, allowWatchBookmarks: false },
      (type: string, obj: V1Node) => {
        if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") onEvent(type, obj);
      },
      (err: unknown) => onDone(err ?? undefined),
    );
  }

  /** Sets (`value` a string) or removes (`null`) one label of a node. */
  async labelNode(name: string, label: string, value: string | null): Promise<void> {
    await this.#core.patchNode(
      { name, body: { metadata: { labels: { [label]: value } } } },
      mergePatch,
    );
  }

  /** Labels of all nodes matching `labelSelector`. */
  async nodesMatching(labelSelector: string): Promise<V1Node[]> {
    return (await this.#core.listNode({ labelSelector })).items;
  }

  /** A Deployment's wanted replicas, its pods' label selector and its uid. */
  async deploymentScale(
    namespace: string,
    name: string,
  ): Promise<{ replicas: number; selector: string; uid: string | undefined }> {
    const d = await this.#apps.readNamespacedDeployment({ namespace, name });
    const labels = d.spec?.selector.matchLabels ?? {};
    return {
      replicas: d.spec?.replicas ?? 0,
      selector: Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
      uid: d.metadata?.uid,
    };
  }

  /** Sets a Deployment's replicas through its `scale` subresource. */
  async scaleDeployment(namespace: string, name: string, replicas: number): Promise<void> {
    await this.#apps.patchNamespacedDeploymentScale(
      { namespace, name, body: { spec: { replicas } } },
      mergePatch,
    );
  }

  /** A DaemonSet's pod selector, node selector and uid. */
  async daemonSet(
    namespace: string,
    name: string,
  ): Promise<{ selector: string; nodeSelector: Record<string, string>; uid: string | undefined }> {
    const ds = await this.#apps.readNamespacedDaemonSet({ namespace, name });
    return {
      selector: Object.entries(ds.spec?.selector.matchLabels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
      nodeSelector: ds.spec?.template.spec?.nodeSelector ?? {},
      uid: ds.metadata?.uid,
    };
  }

  /** Pods in `namespace` matching `labelSelector`. */
  async listPods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    return (await this.#core.listNamespacedPod({ namespace, labelSelector })).items;
  }

  /** Merges annotations into a pod (`null` removes one). */
  async annotatePod(
    namespace: string,
    name: string,
    annotations: Record<string, string | null>,
  ): Promise<void> {
    await this.#core.patchNamespacedPod(
      { namespace, name, body: { metadata: { annotations } } },
      mergePatch,
    );
  }

  /** The Lease, or undefined when there is none yet. */
  async readLease(namespace: string, name: string): Promise<LeaseRecord | undefined> {
    try {
      return toLeaseRecord(await this.#coordination.readNamespacedLease({ namespace, name }));
    } catch (err) {
      if (kubeStatus(err) === 404) return undefined;
      throw err;
    }
  }

  /** Creates the Lease held by `holder`; fails with 409 when another replica created it first. */
  async createLease(
    namespace: string,
    name: string,
    holder: string,
    durationSeconds: number,
  ): Promise<LeaseRecord> {
    const now = new V1MicroTime();
    return toLeaseRecord(
      await this.#coordination.createNamespacedLease({
        namespace,
        body: {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace },
          spec: {
            holderIdentity: holder,
            leaseDurationSeconds: durationSeconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        },
      }),
    );
  }

  /**
   * Replaces the Lease, guarded by `previous.resourceVersion`: fails with 409 when another replica
   * wrote it since it was read, which is what keeps two replicas from both believing they lead.
   */
  async replaceLease(
    namespace: string,
    name: string,
    previous: LeaseRecord,
    next: { holder: string; durationSeconds: number; acquired: boolean },
  ): Promise<LeaseRecord> {
    const now = new V1MicroTime();
    return toLeaseRecord(
      await this.#coordination.replaceNamespacedLease({
        namespace,
        name,
        body: {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace, resourceVersion: previous.resourceVersion },
          spec: {
            holderIdentity: next.holder,
            leaseDurationSeconds: next.durationSeconds,
            acquireTime: next.acquired
              ? now
              : previous.acquireTime && new V1MicroTime(previous.acquireTime),
            renewTime: now,
            leaseTransitions: previous.transitions + (next.acquired ? 1 : 0),
          },
        },
      }),
    );
  }

  /** Records a core/v1 Event about `input.involved`. */
  async recordEvent(namespace: string, input: EventInput): Promise<void> {
    const now = new Date();
    const body: CoreV1Event = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { generateName: `${input.involved.name}.`, namespace },
      involvedObject: input.involved,
      type: input.type,
      reason: input.reason,
      message: input.message,
      source: { component: this.#component },
      reportingComponent: this.#component,
      reportingInstance: this.#component,
      action: input.reason,
      firstTimestamp: now,
      lastTimestamp: now,
      eventTime: new V1MicroTime(now.getTime()),
      count: 1,
    };
    await this.#core.createNamespacedEvent({ namespace, body });
  }
}

function toLeaseRecord(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  const date = (d: Date | string | undefined) => (d === undefined ? undefined : new Date(d));
  return {
    holder: spec.holderIdentity,
    renewTime: date(spec.renewTime),
    acquireTime: date(spec.acquireTime),
    durationSeconds: spec.leaseDurationSeconds ?? 15,
    transitions: spec.leaseTransitions ?? 0,
    resourceVersion: lease.metadata?.resourceVersion ?? "",
  };
}
