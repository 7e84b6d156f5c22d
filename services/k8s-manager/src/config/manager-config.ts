import { hostname } from "node:os";
import { z } from "zod";

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);

/** The manager's environment, validated at start; every variable is listed in the README. */
const envSchema = z
  .object({
    AETHERIUM_URL: z.url({
      error: "required: the gateway's URL (http://aetherium-gateway:8080)",
    }),
    AETHERIUM_API_KEY: z
      .string({ error: "required: an admin API key (draining a worker needs admin)" })
      .min(1, "required: an admin API key (draining a worker needs admin)"),
    AETHERIUM_MANAGER_KUBE: z.enum(["in-cluster", "kubeconfig"]).default("in-cluster"),
    AETHERIUM_MANAGER_NAMESPACE: z.string().min(1).optional(),
    POD_NAMESPACE: z.string().min(1).optional(),
    POD_NAME: z.string().min(1).optional(),
    AETHERIUM_MANAGER_WORKER_KIND: z.enum(["Deployment", "DaemonSet"]).default("Deployment"),
    AETHERIUM_MANAGER_WORKER_NAME: z.string().min(1).default("aetherium-worker"),
    AETHERIUM_MANAGER_CANDIDATE_NODES: z.string().default(""),
    AETHERIUM_MANAGER_MIN_WORKERS: int(0).default(1),
    AETHERIUM_MANAGER_MAX_WORKERS: int(1).default(10),
    AETHERIUM_MANAGER_SANDBOXES_PER_WORKER: int(1).optional(),
    AETHERIUM_MANAGER_HEADROOM: z.coerce.number().min(0).max(0.9).default(0.2),
    AETHERIUM_MANAGER_INTERVAL_MS: int(1000).default(15_000),
    AETHERIUM_MANAGER_LEASE_NAME: z.string().min(1).default("aetherium-k8s-manager"),
    AETHERIUM_MANAGER_LEASE_SECONDS: int(3, 3600).default(15),
    AETHERIUM_MANAGER_PORT: int(0, 65_535).default(9090),
    AETHERIUM_MANAGER_KVM_LABEL: z.string().min(1).default("aetherium.dev/kvm"),
    AETHERIUM_MANAGER_KVM_RESOURCE: z.string().min(1).default("devices.kubevirt.io/kvm"),
    AETHERIUM_MANAGER_LABEL_KVM_NODES: z.enum(["true", "false"]).default("true"),
    AETHERIUM_LOG_LEVEL: z
      .enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"])
      .default("info"),
  })
  .refine((e) => e.AETHERIUM_MANAGER_MIN_WORKERS <= e.AETHERIUM_MANAGER_MAX_WORKERS, {
    message: "AETHERIUM_MANAGER_MIN_WORKERS must not exceed AETHERIUM_MANAGER_MAX_WORKERS",
  });

/** The manager's settings, parsed from its environment. */
export interface ManagerConfig {
  readonly gatewayUrl: string;
  readonly apiKey: string;
  readonly kube: "in-cluster" | "kubeconfig";
  /** Namespace of the workers, the Lease and the Events. */
  readonly namespace: string;
  /** This replica's Lease identity. */
  readonly identity: string;
  readonly workers: {
    readonly kind: "Deployment" | "DaemonSet";
    readonly name: string;
    /** DaemonSet mode: label selector of nodes that may be given a worker ("" = any node). */
    readonly candidateNodes: string;
    readonly min: number;
    readonly max: number;
    readonly sandboxesPerWorker: number | undefined;
    readonly headroom: number;
  };
  readonly intervalMs: number;
  readonly lease: { readonly name: string; readonly durationSeconds: number };
  /** Port of `/metrics`, `/healthz` and `/readyz`. */
  readonly port: number;
  readonly kvm: { readonly enabled: boolean; readonly label: string; readonly resource: string };
  readonly logLevel: "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
}

/** Reads the manager's settings; throws one message listing every bad variable. */
export function loadManagerConfig(env: Record<string, string | undefined>): ManagerConfig {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ""),
  );
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (i) => `${i.path.join(".") || "environment"}: ${i.message}`,
    );
    throw new Error(`invalid k8s-manager settings:\n  ${lines.join("\n  ")}`);
  }
  const e = parsed.data;
  return {
    gatewayUrl: e.AETHERIUM_URL,
    apiKey: e.AETHERIUM_API_KEY,
    kube: e.AETHERIUM_MANAGER_KUBE,
    namespace: e.AETHERIUM_MANAGER_NAMESPACE ?? e.POD_NAMESPACE ?? "default",
    identity: e.POD_NAME ?? hostname(),
    workers: {
      kind: e.AETHERIUM_MANAGER_WORKER_KIND,
      name: e.AETHERIUM_MANAGER_WORKER_NAME,
      candidateNodes: e.AETHERIUM_MANAGER_CANDIDATE_NODES,
      min: e.AETHERIUM_MANAGER_MIN_WORKERS,
      max: e.AETHERIUM_MANAGER_MAX_WORKERS,
      sandboxesPerWorker: e.AETHERIUM_MANAGER_SANDBOXES_PER_WORKER,
      headroom: e.AETHERIUM_MANAGER_HEADROOM,
    },
    intervalMs: e.AETHERIUM_MANAGER_INTERVAL_MS,
    lease: {
      name: e.AETHERIUM_MANAGER_LEASE_NAME,
      durationSeconds: e.AETHERIUM_MANAGER_LEASE_SECONDS,
    },
    port: e.AETHERIUM_MANAGER_PORT,
    kvm: {
      enabled: e.AETHERIUM_MANAGER_LABEL_KVM_NODES === "true",
      label: e.AETHERIUM_MANAGER_KVM_LABEL,
      resource: e.AETHERIUM_MANAGER_KVM_RESOURCE,
    },
    logLevel: e.AETHERIUM_LOG_LEVEL,
  };
}
