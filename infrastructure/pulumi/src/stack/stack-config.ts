import type { Output } from "@pulumi/pulumi";

/** What an operator sets per stack (`Pulumi.<stack>.yaml`, namespace `aetherium:`). */
export interface StackConfig {
  readonly namespace: string;
  /** Tag of every Aetherium image; empty: the charts' appVersion. */
  readonly imageTag: string;
  /** Registry prefix of the images; empty: images loaded straight into the nodes' engine. */
  readonly imageRegistry: string;
  readonly gatewayReplicas: number;
  /** Deployment (the manager scales replicas) or DaemonSet (it labels nodes). */
  readonly workerKind: "Deployment" | "DaemonSet";
  /** Nodes workers run on; a DaemonSet scales by exactly one such label. */
  readonly workerNodeSelector: Readonly<Record<string, string>>;
  /** Mount /dev/kvm into workers (microVM backends). */
  readonly workerKvm: boolean;
  readonly minWorkers: number;
  readonly maxWorkers: number;
  /** Connection strings and keys; kept as Pulumi secrets end to end. */
  readonly databaseUrl: Output<string>;
  readonly redisUrl: Output<string>;
  readonly apiKey: Output<string>;
  readonly encryptionKey: Output<string>;
}

/** The reads `readStackConfig` needs from `pulumi.Config` (so tests can hand it a stack file). */
export interface ConfigSource {
  get(key: string): string | undefined;
  requireSecret(key: string): Output<string>;
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

function int(source: ConfigSource, key: string, fallback: number, min: number): number {
  const raw = source.get(key);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`aetherium:${key} must be an integer of at least ${min}, not "${raw}"`);
  return n;
}

/**
 * Reads and checks a stack's configuration; every mistake is an error naming the key, before
 * anything is deployed.
 */
export function readStackConfig(source: ConfigSource): StackConfig {
  const namespace = source.get("namespace") ?? "aetherium";
  if (!NAME.test(namespace) || namespace.length > 63) {
    throw new Error(`aetherium:namespace "${namespace}" is not a valid Kubernetes namespace name`);
  }
  const workerKind = source.get("workerKind") ?? "Deployment";
  if (workerKind !== "Deployment" && workerKind !== "DaemonSet") {
    throw new Error(`aetherium:workerKind must be Deployment or DaemonSet, not "${workerKind}"`);
  }
  let workerNodeSelector: Record<string, string> = {};
  const rawSelector = source.get("workerNodeSelector");
  if (rawSelector) {
    const parsed = JSON.parse(rawSelector) as unknown;
    if (
      typeof parsed !== "object" ||
      parsed === null ||
      Array.isArray(parsed) ||
      !Object.entries(parsed).every(([k, v]) => LABEL_KEY.test(k) && typeof v === "string")
    ) {
      throw new Error("aetherium:workerNodeSelector must be a map of label keys to string values");
    }
    workerNodeSelector = parsed as Record<string, string>;
  }
  if (workerKind === "DaemonSet" && Object.keys(workerNodeSelector).length !== 1) {
    throw new Error(
      "aetherium:workerNodeSelector needs exactly one label when workerKind is DaemonSet",
    );
  }
  const minWorkers = int(source, "minWorkers", 1, 0);
  const maxWorkers = int(source, "maxWorkers", 10, 1);
  if (minWorkers > maxWorkers)
    throw new Error("aetherium:minWorkers must not exceed aetherium:maxWorkers");
  return {
    namespace,
    imageTag: source.get("imageTag") ?? "",
    imageRegistry: source.get("imageRegistry") ?? "",
    gatewayReplicas: int(source, "gatewayReplicas", 2, 1),
    workerKind,
    workerNodeSelector,
    workerKvm: source.get("workerKvm") === "true",
    minWorkers,
    maxWorkers,
    databaseUrl: source.requireSecret("databaseUrl"),
    redisUrl: source.requireSecret("redisUrl"),
    apiKey: source.requireSecret("apiKey"),
    encryptionKey: source.requireSecret("encryptionKey"),
  };
}
