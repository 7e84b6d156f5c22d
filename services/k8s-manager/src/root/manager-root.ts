import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "@aetherium/common";
import { AetheriumClient } from "@aetherium/sdk";
import type { ManagerConfig } from "../config/manager-config.js";
import { KubeApi, type KubeTarget } from "../kubernetes/kube-api.js";
import { LeaseElector } from "../leader/lease-elector.js";
import { KvmNodeLabeler } from "../nodes/kvm-node-labeler.js";
import { ManagerMetrics } from "../observability/manager-metrics.js";
import { DaemonSetPool, DeploymentPool } from "../scaling/worker-pool.js";
import { WorkerScaler, type ScalerAction } from "../scaling/worker-scaler.js";

/** A running manager. */
export interface Manager {
  /** `http://127.0.0.1:<port>` of `/metrics`, `/healthz` and `/readyz`. */
  readonly url: string;
  readonly metrics: ManagerMetrics;
  readonly elector: LeaseElector;
  readonly labeler: KvmNodeLabeler;
  readonly scaler: WorkerScaler;
  /**
   * One round, as the loop runs it: renew or take the Lease, and only while leading label KVM
   * nodes and reconcile the workers. Undefined when this replica follows.
   */
  round(): Promise<ScalerAction | undefined>;
  /** Stops the loop, the watch and the HTTP server, and gives up the Lease. */
  close(): Promise<void>;
}

/** What the composition root is handed besides configuration. */
export interface ManagerDeps {
  readonly logger: Logger;
  /** Where the cluster is; default from `config.kube`. */
  readonly kube?: KubeTarget;
  /** Address the HTTP server binds; default all interfaces (probes come from the kubelet). */
  readonly host?: string;
  /** Run the timer loop; off in tests that drive {@link Manager.round} themselves. */
  readonly loop?: boolean;
}

/**
 * The manager's composition root: one Kubernetes client, one Aetherium client, the Lease, the KVM
 * labeler, the scaler and the metrics server, wired once. Only the Lease holder acts; a follower
 * keeps trying the Lease every round and serves its metrics.
 */
export async function openManager(config: ManagerConfig, deps: ManagerDeps): Promise<Manager> {
  const { logger } = deps;
  const api = new KubeApi(deps.kube ?? { kind: config.kube });
  const client = new AetheriumClient({ url: config.gatewayUrl, apiKey: config.apiKey });
  const metrics = new ManagerMetrics();
  const labeler = new KvmNodeLabeler(
    api,
    { label: config.kvm.label, resource: config.kvm.resource, eventNamespace: config.namespace },
    logger,
    metrics,
  );
  let labelling = false;
  const elector = new LeaseElector(api, {
    namespace: config.namespace,
    name: config.lease.name,
    identity: config.identity,
    durationSeconds: config.lease.durationSeconds,
    onChange: (leading) => {
      metrics.set("aetherium_manager_leader", leading ? 1 : 0);
      logger.info({ identity: config.identity }, leading ? "leading" : "following");
      if (!leading && labelling) {
        labeler.stop();
        labelling = false;
      }
    },
  });
  const pool =
    config.workers.kind === "Deployment"
      ? new DeploymentPool(api, config.namespace, config.workers.name)
      : new DaemonSetPool(api, config.namespace, config.workers.name, {
          candidates: config.workers.candidateNodes,
          ...(config.kvm.enabled ? { preferLabel: config.kvm.label } : {}),
        });
  const scaler = new WorkerScaler({
    api,
    client,
    pool,
    logger,
    metrics,
    options: {
      namespace: config.namespace,
      minWorkers: config.workers.min,
      maxWorkers: config.workers.max,
      headroom: config.workers.headroom,
      ...(config.workers.sandboxesPerWorker
        ? { sandboxesPerWorker: config.workers.sandboxesPerWorker }
        : {}),
    },
  });

  let lastOk = 0;
  const round = async (): Promise<ScalerAction | undefined> => {
    if (!(await elector.tick())) return undefined;
    if (config.kvm.enabled && !labelling) {
      labelling = true;
      await labeler.start().catch((err: unknown) => {
        labelling = false;
        throw err;
      });
    }
    try {
      const action = await scaler.reconcile();
      lastOk = Date.now();
      return action;
    } catch (err) {
      metrics.inc("aetherium_manager_reconcile_errors_total");
      throw err;
    }
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      res.end(metrics.render());
    } else if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok\n");
    } else if (path === "/readyz") {
      // A leader that has not reconciled for three intervals is stuck; a follower is ready.
      const stale = elector.leading && Date.now() - lastOk > config.intervalMs * 3;
      res.writeHead(stale ? 503 : 200, { "content-type": "text/plain" });
      res.end(stale ? "leader has not reconciled recently\n" : "ok\n");
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(config.port, deps.host ?? "0.0.0.0", resolve));
  const { port } = server.address() as AddressInfo;

  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const loop = () => {
    timer = setTimeout(() => {
      round()
        .then(
          (action) => action && action.kind !== "hold" && logger.debug({ action }, "reconciled"),
        )
        .catch((err: unknown) => logger.error({ err }, "reconcile failed"))
        .finally(() => {
          if (!closed) loop();
        });
    }, config.intervalMs);
  };
  if (deps.loop !== false) {
    lastOk = Date.now();
    loop();
  }

  return {
    url: `http://127.0.0.1:${port}`,
    metrics,
    elector,
    labeler,
    scaler,
    round,
    async close() {
      closed = true;
      clearTimeout(timer);
      labeler.stop();
      await elector
        .release()
        .catch((err: unknown) => logger.warn({ err }, "could not release the Lease"));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
