import type { V1Node } from "@kubernetes/client-node";
import type { Logger } from "@aetherium/common";
import type { KubeApi } from "../kubernetes/kube-api.js";
import type { ManagerMetrics } from "../observability/manager-metrics.js";

/** Which label marks KVM nodes and which allocatable resource proves /dev/kvm. */
export interface KvmLabelerOptions {
  /** Label set to `"true"` on nodes with /dev/kvm (VM workers select it). */
  readonly label: string;
  /** Extended resource a KVM device plugin advertises per node (`devices.kubevirt.io/kvm`). */
  readonly resource: string;
  /** Namespace the label changes are recorded in as Events; none: not recorded. */
  readonly eventNamespace?: string;
  /** Pause before re-listing after a watch ends, in ms. */
  readonly rewatchDelayMs?: number;
}

/** Whether a node advertises at least one `resource` in its allocatable capacity. */
export function nodeHasKvm(node: V1Node, resource: string): boolean {
  const raw = node.status?.allocatable?.[resource];
  return raw !== undefined && Number.parseInt(raw, 10) > 0;
}

/**
 * Keeps the KVM label in line with what nodes offer. Kubernetes has no built-in signal for
 * `/dev/kvm`; a KVM device plugin (KubeVirt's, deployable on its own) advertises it as the
 * allocatable extended resource `devices.kubevirt.io/kvm`, so a node that has it gets
 * `<label>=true` and one that loses it loses the label. Lists once, then follows a watch from the
 * list's resourceVersion, re-listing whenever the watch ends.
 */
export class KvmNodeLabeler {
  readonly #api: KubeApi;
  readonly #o: KvmLabelerOptions;
  readonly #logger: Logger;
  readonly #metrics: ManagerMetrics;
  readonly #kvm = new Set<string>();
  #watch: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(api: KubeApi, options: KvmLabelerOptions, logger: Logger, metrics: ManagerMetrics) {
    this.#api = api;
    this.#o = options;
    this.#logger = logger;
    this.#metrics = metrics;
  }

  /** Lists nodes, labels them, and starts watching. */
  async start(): Promise<void> {
    this.#running = true;
    await this.#listAndWatch();
  }

  /** Stops the watch (labels stay as they are). */
  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#watch?.abort();
    this.#watch = undefined;
  }

  /** Names of nodes currently labelled as KVM nodes. */
  get kvmNodes(): readonly string[] {
    return [...this.#kvm].sort();
  }

  async #listAndWatch(): Promise<void> {
    const { nodes, resourceVersion } = await this.#api.listNodes();
    this.#kvm.clear();
    for (const n of nodes) await this.#reconcile(n);
    if (!this.#running) return;
    this.#watch = await this.#api.watchNodes(
      resourceVersion,
      (type, node) => {
        const name = node.metadata?.name ?? "";
        if (type === "DELETED") {
          this.#kvm.delete(name);
          this.#metrics.set("aetherium_manager_kvm_nodes", this.#kvm.size);
          return;
        }
        this.#reconcile(node).catch((err: unknown) =>
          this.#logger.warn({ err, node: name }, "could not label node"),
        );
      },
      (err) => {
        if (!this.#running) return;
        if (err) this.#logger.warn({ err }, "node watch ended; listing again");
        this.#timer = setTimeout(() => {
          this.#listAndWatch().catch((e: unknown) =>
            this.#logger.error({ err: e }, "node list failed"),
          );
        }, this.#o.rewatchDelayMs ?? 1000);
      },
    );
  }

  async #reconcile(node: V1Node): Promise<void> {
    const name = node.metadata?.name;
    if (!name) return;
    const has = nodeHasKvm(node, this.#o.resource);
    const labelled = node.metadata?.labels?.[this.#o.label] === "true";
    if (has) this.#kvm.add(name);
    else this.#kvm.delete(name);
    this.#metrics.set("aetherium_manager_kvm_nodes", this.#kvm.size);
    if (has === labelled) return;
    await this.#api.labelNode(name, this.#o.label, has ? "true" : null);
    const message = has
      ? `node offers ${this.#o.resource}: labelled ${this.#o.label}=true for VM workers`
      : `node no longer offers ${this.#o.resource}: removed ${this.#o.label}`;
    this.#logger.info({ node: name, kvm: has }, message);
    if (this.#o.eventNamespace) {
      await this.#api
        .recordEvent(this.#o.eventNamespace, {
          involved: {
            apiVersion: "v1",
            kind: "Node",
            name,
            namespace: "",
            ...(node.metadata?.uid ? { uid: node.metadata.uid } : {}),
          },
          type: "Normal",
          reason: has ? "KvmLabelled" : "KvmUnlabelled",
          message,
        })
        .catch((err: unknown) => this.#logger.warn({ err, node: name }, "could not record event"));
    }
  }
}
