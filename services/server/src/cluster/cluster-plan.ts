/**
 * What a local cluster is made of — names, ports, environment and host settings of each
 * container — as plain data, so the plan can be read and checked without an engine.
 *
 * Every container shares the host's network namespace and listens on loopback only: the workers
 * must (they install the sandbox firewall in the host's tables, and serve the egress proxy on the
 * sandbox bridge's host address), and with everyone on loopback nothing of the cluster is
 * reachable from other machines or from sandboxes (whose bridges the host shuts out).
 * @module
 */
import type { ServiceName } from "../service-images/service-catalog.js";
import { serviceImageTag } from "../service-images/service-catalog.js";

/** Label on every container and volume of a cluster; its value is the cluster's name. */
export const CLUSTER_LABEL = "aetherium.cluster";

/** Default port of the load balancer (`AETHERIUM_CLUSTER_PORT`). */
export const DEFAULT_CLUSTER_PORT = 8090;

/** Cluster names: container and volume name prefixes, a path segment. */
export const CLUSTER_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,23}$/;

/** What a cluster is started with; generated once and kept in its state directory. */
export interface ClusterSettings {
  readonly name: string;
  /** The load balancer's port; the others follow it (see {@link clusterPorts}). */
  readonly port: number;
  /** Image version of the service images. */
  readonly version: string;
  /** The bootstrap admin key the gateways get. */
  readonly apiKey: string;
  /** Shared by every gateway and worker: workers' data-plane tokens are sealed with it. */
  readonly encryptionKey: string;
  readonly postgresPassword: string;
  readonly redisPassword: string;
}

/** Timings and images a cluster may be started with besides its settings. */
export interface ClusterRunOptions {
  /** The sandbox image the workers run (the host's engine has it). */
  readonly sandboxImage: string;
  /** Host directory of the sandboxes' run directories, bind-mounted at the same path. */
  readonly runDir: string;
  readonly heartbeatMs?: number;
  readonly offlineAfterMs?: number;
  /** vCPUs each worker offers; default the host's CPU count. */
  readonly workerVcpus?: number;
}

/** The ports of a cluster, all on 127.0.0.1. */
export interface ClusterPorts {
  readonly lb: number;
  readonly gateways: readonly [number, number];
  readonly workers: readonly [number, number];
  readonly postgres: number;
  readonly redis: number;
}

/** One container of the plan. */
export interface ContainerPlan {
  readonly name: string;
  readonly role: "postgres" | "redis" | "migrate" | "gateway" | "worker" | "lb";
  readonly service: ServiceName;
  readonly image: string;
  readonly cmd?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** `host:container[:options]` bind mounts and `volume:path` mounts. */
  readonly binds: readonly string[];
  /**
   * Capabilities beyond the engine's default set, and seccomp/AppArmor left unconfined (the
   * default profiles refuse `mount`). Not `--privileged`: it adds every capability, more than
   * the worker needs, and engines that run without some themselves refuse it.
   */
  readonly capAdd: readonly string[];
  /** The URL that answers 200 once it is up, when it serves HTTP. */
  readonly health?: string;
}

/** The ports of a cluster whose load balancer listens on `port`: the next six, in order. */
export function clusterPorts(port: number): ClusterPorts {
  return {
    lb: port,
    gateways: [port + 1, port + 2],
    workers: [port + 3, port + 4],
    postgres: port + 5,
    redis: port + 6,
  };
}

/** The worker ids of a cluster (its sandboxes' containers carry them as labels). */
export function clusterWorkerIds(name: string): [string, string] {
  return [`${name}-worker-1`, `${name}-worker-2`];
}

/** The names of a cluster's volumes. */
export function clusterVolumes(name: string): { postgres: string; redis: string } {
  return { postgres: `${name}-postgres`, redis: `${name}-redis` };
}

/** The database and Redis URLs the Node services get. */
export function clusterUrls(s: ClusterSettings): { database: string; redis: string } {
  const ports = clusterPorts(s.port);
  return {
    database: `postgres://postgres:${encodeURIComponent(s.postgresPassword)}@127.0.0.1:${ports.postgres}/postgres`,
    redis: `redis://:${encodeURIComponent(s.redisPassword)}@127.0.0.1:${ports.redis}`,
  };
}

/** Every container of the cluster, in start order. */
export function clusterPlan(s: ClusterSettings, run: ClusterRunOptions): ContainerPlan[] {
  const ports = clusterPorts(s.port);
  const urls = clusterUrls(s);
  const volumes = clusterVolumes(s.name);
  const image = (service: ServiceName) => serviceImageTag(service, s.version);
  const shared = {
    AETHERIUM_DATABASE_URL: urls.database,
    AETHERIUM_REDIS_URL: urls.redis,
    AETHERIUM_ENCRYPTION_KEY: s.encryptionKey,
    AETHERIUM_HOST: "127.0.0.1",
    // Gateways name the image in each create; workers check they have it.
    AETHERIUM_BASE_IMAGE_TAG: run.sandboxImage,
    ...(run.heartbeatMs !== undefined
      ? { AETHERIUM_WORKER__HEARTBEAT_MS: String(run.heartbeatMs) }
      : {}),
    ...(run.offlineAfterMs !== undefined
      ? { AETHERIUM_WORKER__OFFLINE_AFTER_MS: String(run.offlineAfterMs) }
      : {}),
  };
  const workerIds = clusterWorkerIds(s.name);
  const plan: ContainerPlan[] = [
    {
      name: `${s.name}-postgres`,
      role: "postgres",
      service: "postgres",
      image: image("postgres"),
      env: {
        POSTGRES_PASSWORD: s.postgresPassword,
        PGPORT: String(ports.postgres),
        PGLISTEN: "127.0.0.1",
      },
      binds: [`${volumes.postgres}:/var/lib/aetherium/postgres`],
      capAdd: [],
    },
    {
      name: `${s.name}-redis`,
      role: "redis",
      service: "redis",
      image: image("redis"),
      env: {
        REDIS_PASSWORD: s.redisPassword,
        REDIS_PORT: String(ports.redis),
        REDIS_BIND: "127.0.0.1",
      },
      binds: [`${volumes.redis}:/var/lib/aetherium/redis`],
      capAdd: [],
    },
    {
      name: `${s.name}-migrate`,
      role: "migrate",
      service: "gateway",
      image: image("gateway"),
      cmd: ["migrate", "up"],
      env: { AETHERIUM_DATABASE_URL: urls.database },
      binds: [],
      capAdd: [],
    },
  ];
  workerIds.forEach((id, i) => {
    plan.push({
      name: id,
      role: "worker",
      service: "worker",
      image: image("worker"),
      env: {
        ...shared,
        AETHERIUM_WORKER_ID: id,
        AETHERIUM_WORKER__INTERNAL_PORT: String(ports.workers[i]),
        AETHERIUM_SANDBOX__RUN_DIR: run.runDir,
        ...(run.workerVcpus !== undefined
          ? { AETHERIUM_WORKER__CAPACITY__VCPUS: String(run.workerVcpus) }
          : {}),
      },
      binds: [
        "/var/run/docker.sock:/var/run/docker.sock",
        // Same path inside as outside: the worker names run directories to the host's engine.
        // rshared: the tmpfs the worker mounts on each must be the one the engine binds.
        `${run.runDir}:${run.runDir}:rshared`,
      ],
      // SYS_ADMIN: a tmpfs per run directory; NET_ADMIN: the sandbox firewall.
      capAdd: ["SYS_ADMIN", "NET_ADMIN"],
      health: `http://127.0.0.1:${ports.workers[i]}/healthz`,
    });
  });
  ports.gateways.forEach((port, i) => {
    plan.push({
      name: `${s.name}-gateway-${i + 1}`,
      role: "gateway",
      service: "gateway",
      image: image("gateway"),
      env: { ...shared, AETHERIUM_PORT: String(port), AETHERIUM_API_KEY: s.apiKey },
      binds: [],
      capAdd: [],
      health: `http://127.0.0.1:${port}/api/v1/health`,
    });
  });
  plan.push({
    name: `${s.name}-lb`,
    role: "lb",
    service: "lb",
    image: image("lb"),
    env: {
      LB_LISTEN: `127.0.0.1:${ports.lb}`,
      LB_UPSTREAMS: ports.gateways.map((p) => `127.0.0.1:${p}`).join(","),
    },
    binds: [],
    capAdd: [],
    health: `http://127.0.0.1:${ports.lb}/api/v1/health`,
  });
  return plan;
}
