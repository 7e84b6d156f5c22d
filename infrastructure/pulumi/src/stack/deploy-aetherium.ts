import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "./stack-config.js";
import { SECRET_KEYS, umbrellaValues } from "./umbrella-values.js";

/** What a deployment exposes to the stack's outputs. */
export interface AetheriumDeployment {
  readonly namespace: k8s.core.v1.Namespace;
  readonly secret: k8s.core.v1.Secret;
  readonly release: k8s.helm.v3.Release;
  /** `http://<gateway service>.<namespace>:8080`, the in-cluster API address. */
  readonly gatewayUrl: pulumi.Output<string>;
}

/**
 * Declares Aetherium on a cluster: its namespace, the Secret holding the connection strings and
 * keys (from the stack's secret config), and one Helm release of the umbrella chart in
 * `chartPath` (infrastructure/helm/aetherium), which reads that Secret by name. The Kubernetes
 * provider renders Helm itself, so no helm binary is needed where Pulumi runs.
 */
export function deployAetherium(
  config: StackConfig,
  options: { chartPath: string; provider?: k8s.Provider; releaseName?: string },
): AetheriumDeployment {
  const opts: pulumi.CustomResourceOptions = options.provider ? { provider: options.provider } : {};
  const releaseName = options.releaseName ?? "aetherium";
  const namespace = new k8s.core.v1.Namespace(
    "aetherium",
    { metadata: { name: config.namespace, labels: { "app.kubernetes.io/part-of": "aetherium" } } },
    opts,
  );
  const secretName = `${releaseName}-secrets`;
  const secret = new k8s.core.v1.Secret(
    "aetherium-secrets",
    {
      metadata: { name: secretName, namespace: namespace.metadata.name },
      type: "Opaque",
      stringData: {
        [SECRET_KEYS.databaseUrl]: config.databaseUrl,
        [SECRET_KEYS.redisUrl]: config.redisUrl,
        [SECRET_KEYS.apiKey]: config.apiKey,
        [SECRET_KEYS.encryptionKey]: config.encryptionKey,
      },
    },
    { ...opts, additionalSecretOutputs: ["stringData", "data"] },
  );
  const release = new k8s.helm.v3.Release(
    "aetherium",
    {
      name: releaseName,
      chart: options.chartPath,
      // The umbrella's subcharts are file:// dependencies; Helm packs them before installing.
      dependencyUpdate: true,
      namespace: namespace.metadata.name,
      values: umbrellaValues(config, secretName),
      atomic: true,
      timeout: 600,
    },
    { ...opts, dependsOn: [secret] },
  );
  const gatewayUrl = pulumi.interpolate`http://${releaseName}-gateway.${namespace.metadata.name}:8080`;
  return { namespace, secret, release, gatewayUrl };
}
