import type { StackConfig } from "./stack-config.js";

/** Keys of the Secret the charts read (the umbrella chart's `global.secretKeys`). */
export const SECRET_KEYS = {
  databaseUrl: "database-url",
  redisUrl: "redis-url",
  apiKey: "api-key",
  encryptionKey: "encryption-key",
} as const;

/**
 * The umbrella chart's values for a stack. Secrets are not values: the charts reference the
 * Secret named `secretName` by key, so no connection string or key passes through Helm.
 */
export function umbrellaValues(
  config: Omit<StackConfig, "databaseUrl" | "redisUrl" | "apiKey" | "encryptionKey">,
  secretName: string,
) {
  return {
    global: {
      imageRegistry: config.imageRegistry,
      imageTag: config.imageTag,
      secretName,
      secretKeys: { ...SECRET_KEYS },
    },
    gateway: { enabled: true, replicaCount: config.gatewayReplicas },
    worker: {
      enabled: true,
      kind: config.workerKind,
      replicaCount: config.minWorkers,
      nodeSelector: { ...config.workerNodeSelector },
      kvm: config.workerKvm,
    },
    "k8s-manager": {
      enabled: true,
      workers: {
        kind: config.workerKind,
        min: config.minWorkers,
        max: config.maxWorkers,
        ...(config.workerKind === "DaemonSet" && config.workerKvm
          ? { candidateNodes: "aetherium.dev/kvm=true" }
          : {}),
      },
    },
  };
}
