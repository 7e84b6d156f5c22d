import type { Config, Logger } from "@aetherium/common";
import type { VmBackend } from "@aetherium/types";
import { detectBackends } from "../backends/detect-backends.js";
import { DockerBackend } from "../docker/docker-backend.js";
import type { JobHandlers } from "../queue/job-queue.js";
import { sandboxJobHandlers } from "../sandbox/job-handlers.js";
import { SandboxManager } from "../sandbox/sandbox-manager.js";
import { claimWorkerId, resolveWorkerId } from "../worker/worker-identity.js";
import { DEFAULT_SANDBOX_SHAPE, type Runtime } from "./open-runtime.js";

/**
 * This worker's id: configured, or generated once (`<hostname>-<random>`) and kept in
 * `<home>/worker-id`, so it is stable across restarts (it reclaims its sandboxes) and unique to
 * this install (see {@link resolveWorkerId}).
 */
export function workerIdFor(config: Config): string {
  return resolveWorkerId(config);
}

/** The sandbox side of a worker: which backends it offers and the handlers that drive them. */
export interface SandboxRuntime {
  readonly backends: VmBackend[];
  readonly handlers: JobHandlers;
  readonly manager: SandboxManager | undefined;
  /** One line per backend: ready, or what is missing and how to fix it. */
  readonly status: { backend: VmBackend; ready: boolean; detail: string }[];
  close(): Promise<void>;
}

/**
 * Finds the backends this host can run and wires the sandbox manager for them: Docker when the
 * engine answers and the base image exists (`aetherium image build` makes it). On start it
 * refuses a worker id a live process uses, reconciles rows with the engine, then follows the
 * engine's events (and reconciles every `reconcileIntervalMs` in case some are missed) and
 * deletes expired sandboxes every few seconds.
 */
export async function openSandboxRuntime(
  runtime: Runtime,
  config: Config,
  logger: Logger,
  options: {
    image?: string;
    expiryIntervalMs?: number;
    poolIntervalMs?: number;
    reconcileIntervalMs?: number;
  } = {},
): Promise<SandboxRuntime> {
  const image = options.image ?? DEFAULT_SANDBOX_SHAPE.image;
  const probes = await detectBackends();
  const status: SandboxRuntime["status"] = [];
  let manager: SandboxManager | undefined;
  let stopWatching: (() => void) | undefined;
  const backends: DockerBackend[] = [];
  for (const probe of probes) {
    if (probe.backend !== "docker") {
      status.push({
        backend: probe.backend,
        ready: false,
        detail: `${probe.detail}; the ${probe.backend} backend is not implemented yet`,
      });
      continue;
    }
    if (!probe.available) {
      status.push({ backend: "docker", ready: false, detail: probe.detail });
      continue;
    }
    const backend = new DockerBackend({
      defaultImage: image,
      egressProxyPort: config.sandbox.egressProxyPort,
      logger,
    });
    backends.push(backend);
    const hasImage = await backend.docker
      .getImage(image)
      .inspect()
      .then(
        () => true,
        () => false,
      );
    if (!hasImage) {
      status.push({
        backend: "docker",
        ready: false,
        detail: `${probe.detail}, but image ${image} is missing: run \`aetherium image build\``,
      });
      continue;
    }
    // The host is shut to the sandbox bridge before any sandbox, old or new, runs here; a worker
    // that cannot do so takes no sandboxes rather than expose its own ports to them.
    const isolation = await backend.ensureNetwork().then(
      () => undefined,
      (err: unknown) => (err as Error).message,
    );
    if (isolation !== undefined) {
      status.push({ backend: "docker", ready: false, detail: isolation });
      continue;
    }
    const workerId = workerIdFor(config);
    // Before reconciling: a second process under a live id would take the first one's
    // sandboxes for vanished ones. An embedded database belongs to one process, so only a
    // shared one needs the check (and a restart after a crash then waits for nothing).
    if (runtime.mode === "distributed") {
      await claimWorkerId(runtime.repos, workerId, {
        heartbeatMs: config.worker.heartbeatMs,
        offlineAfterMs: config.worker.offlineAfterMs,
        logger,
      });
    }
    manager = new SandboxManager({
      backend,
      repos: runtime.repos,
      bus: runtime.bus,
      workerId,
      logger,
    });
    await manager.reconcile();
    stopWatching = manager.watch(options.reconcileIntervalMs);
    const disk = await backend.probeDiskLimits(image).catch(() => "unknown");
    status.push({
      backend: "docker",
      ready: true,
      detail: `${probe.detail}, image ${image}, disk limits ${
        disk === "enforced"
          ? "enforced"
          : "not enforced (the data root has no quotas: see scripts/ensure-docker.sh)"
      }`,
    });
  }
  // At most one refill runs at a time; close() waits for it so no sandbox boots after shutdown.
  let refilling: Promise<void> | undefined;
  const poolSize = config.sandbox.warmPoolSize;
  const refill =
    manager && poolSize > 0
      ? setInterval(() => {
          refilling ??= manager
            .refillPool(poolSize, DEFAULT_SANDBOX_SHAPE)
            .then(() => undefined)
            .catch((err: unknown) => logger.warn({ err }, "warm pool refill failed"))
            .finally(() => (refilling = undefined));
        }, options.poolIntervalMs ?? 2000)
      : undefined;
  refill?.unref();
  const expiry =
    manager &&
    setInterval(() => {
      manager
        .expire()
        .then(() =>
          config.sandbox.idleStopSec > 0 ? manager.stopIdle(config.sandbox.idleStopSec * 1000) : [],
        )
        .catch((err: unknown) => logger.warn({ err }, "sandbox expiry sweep failed"));
    }, options.expiryIntervalMs ?? 5000);
  expiry?.unref();
  const handlers = manager ? sandboxJobHandlers(manager) : {};
  return {
    backends: manager ? ["docker"] : [],
    handlers,
    manager,
    status,
    async close() {
      stopWatching?.();
      if (expiry) clearInterval(expiry);
      if (refill) clearInterval(refill);
      await refilling;
      await manager?.close();
      for (const b of backends) await b.close();
    },
  };
}
