/** What a deployment is asked for: the knobs an operator sets per stack. */
export interface StackConfig {
  readonly namespace: string;
  readonly imageTag: string;
  readonly gatewayReplicas: number;
  /** Workers run one per node (DaemonSet) on nodes with this label. */
  readonly workerNodeSelector: Record<string, string>;
  readonly databaseUrlSecret: string;
  readonly redisUrl: string;
}

/** One Helm release of one chart, with its values. */
export interface ReleasePlan {
  readonly name: string;
  readonly chart: string;
  readonly namespace: string;
  readonly values: Record<string, unknown>;
}

/**
 * Turns stack config into the Helm releases Pulumi applies. Kept free of the Pulumi runtime so
 * the plan is testable and reviewable (`pulumi preview` shows the same values).
 */
export function planReleases(config: StackConfig): ReleasePlan[] {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(config.namespace)) {
    throw new Error(`namespace "${config.namespace}" is not a valid Kubernetes name`);
  }
  if (config.gatewayReplicas < 1) throw new Error("gatewayReplicas must be at least 1");
  const common = {
    image: { tag: config.imageTag },
    env: {
      AETHERIUM_REDIS_URL: config.redisUrl,
    },
    envFromSecret: { AETHERIUM_DATABASE_URL: config.databaseUrlSecret },
  };
  return [
    {
      name: "aetherium-gateway",
      chart: "gateway",
      namespace: config.namespace,
      values: { ...common, replicaCount: config.gatewayReplicas },
    },
    {
      name: "aetherium-worker",
      chart: "worker",
      namespace: config.namespace,
      // Workers need the host's Docker engine and /dev/kvm, hence privileged and one per node.
      values: {
        ...common,
        kind: "DaemonSet",
        nodeSelector: config.workerNodeSelector,
        privileged: true,
      },
    },
    {
      name: "aetherium-k8s-manager",
      chart: "k8s-manager",
      namespace: config.namespace,
      values: { ...common, replicaCount: 1 },
    },
  ];
}
