import type { Config, Logger } from "@aetherium/common";
import { DEFAULT_SANDBOX_SHAPE, type JobHandlers, type ControlPlane } from "@aetherium/core";
import type { VmBackend } from "@aetherium/types";
import {
  openBackends,
  type BackendOpener,
  type BackendStatus,
} from "../backends/backend-registry.js";
import type { BackendProbe } from "../backends/detect-backends.js";
import { claimWorkerId, resolveWorkerId } from "../daemon/worker-identity.js";
import { openDockerBackend } from "../docker/open-docker-backend.js";
import { openFirecrackerBackend } from "../firecracker/open-firecracker-backend.js";
import { openQemuBackend } from "../qemu/open-qemu-backend.js";
import { sandboxJobHandlers } from "../sandbox/job-handlers.js";
import { SandboxManager } from "../sandbox/sandbox-manager.js";
import { SandboxManagers } from "../sandbox/sandbox-managers.js";

/** The backends a worker knows how to open; a kind missing here is reported as not implemented. */
export const BACKEND_OPENERS: Partial<Record<VmBackend, BackendOpener>> = {
  docker: openDockerBackend,
  firecracker: openFirecrackerBackend,
  qemu: openQemuBackend,
};

/**
 * This worker's id: configured, or generated once (`<hostname>-<random>`) and kept in
 * `<home>/worker-id`, so it is stable across restarts (it reclaims its sandboxes) and unique to
 * this install (see {@link resolveWorkerId}).
 */
export function workerIdFor(config: Config): string {
  return resolveWorkerId(config);
}

/** The sandbox side of a worker: which backends it offers and the handlers that drive them. */
export interface WorkerSandboxes {
  /** The backends ready here, one manager each. */
  readonly backends: VmBackend[];
  readonly managers: SandboxManagers;
  /** Whether at least one backend is ready. */
  readonly ready: boolean;
  readonly handlers: JobHandlers;
  /** One line per backend: ready, or what is missing and how to fix it. */
  readonly status: readonly BackendStatus[];
  close(): Promise<void>;
}

/** Timings and overrides of {@link openWorkerSandboxes}. */
export interface WorkerSandboxesOptions {
  readonly image?: string;
  readonly expiryIntervalMs?: number;
  readonly poolIntervalMs?: number;
  readonly reconcileIntervalMs?: number;
  /** The host's probes (default: {@link detectBackends} run now). */
  readonly probes?: readonly BackendProbe[];
  /** Which backends may be opened (default {@link BACKEND_OPENERS}). */
  readonly openers?: Partial<Record<VmBackend, BackendOpener>>;
}

/**
 * Opens every backend this host can run and wires one sandbox manager per backend. Before the
 * first manager it refuses a worker id a live process uses; each manager then reconciles its
 * rows with its backend, follows the backend's events (and reconciles every
 * `reconcileIntervalMs` in case some are missed); expired and idle sandboxes are swept every few
 * seconds and the warm pool refilled.
 */
export async function openWorkerSandboxes(
  runtime: ControlPlane,
  config: Config,
  logger: Logger,
  options: WorkerSandboxesOptions = {},
): Promise<WorkerSandboxes> {
  const image = options.image ?? DEFAULT_SANDBOX_SHAPE.image;
  const workerId = workerIdFor(config);
  const { opened, status, closers } = await openBackends(
    options.openers ?? BACKEND_OPENERS,
    { config, image, logger, repos: runtime.repos, workerId },
    options.probes,
  );
  const stops: (() => void)[] = [];
  const list: SandboxManager[] = [];
  try {
    // Before reconciling: a second process under a live id would take the first one's
    // sandboxes for vanished ones. An embedded database belongs to one process, so only a
    // shared one needs the check (and a restart after a crash then waits for nothing).
    if (opened.length > 0 && runtime.mode === "distributed") {
      await claimWorkerId(runtime.repos, workerId, {
        heartbeatMs: config.worker.heartbeatMs,
        offlineAfterMs: config.worker.offlineAfterMs,
        logger,
      });
    }
    for (const backend of opened) {
      const manager = new SandboxManager({
        backend,
        repos: runtime.repos,
        bus: runtime.bus,
        workerId,
        logger,
        ...(backend.agentReadyTimeoutMs === undefined
          ? {}
          : { agentReadyTimeoutMs: backend.agentReadyTimeoutMs }),
      });
      list.push(manager);
      await manager.reconcile();
      stops.push(manager.watch(options.reconcileIntervalMs));
    }
  } catch (err) {
    for (const stop of stops) stop();
    for (const m of list) await m.close();
    for (const close of closers) await close();
    throw err;
  }
  const managers = new SandboxManagers(list, runtime.repos);
  // At most one refill runs at a time; close() waits for it so no sandbox boots after shutdown.
  // The pool is kept on the first backend: the one a create that names none is most likely on.
  let refilling: Promise<void> | undefined;
  const poolSize = config.sandbox.warmPoolSize;
  const poolManager = list[0];
  const refill =
    poolManager && poolSize > 0
      ? setInterval(() => {
          refilling ??= poolManager
            .refillPool(poolSize, DEFAULT_SANDBOX_SHAPE)
            .then(() => undefined)
            .catch((err: unknown) => logger.warn({ err }, "warm pool refill failed"))
            .finally(() => (refilling = undefined));
        }, options.poolIntervalMs ?? 2000)
      : undefined;
  refill?.unref();
  const expiry =
    list.length > 0
      ? setInterval(() => {
          for (const manager of list) {
            manager
              .expire()
              .then(() =>
                config.sandbox.idleStopSec > 0
                  ? manager.stopIdle(config.sandbox.idleStopSec * 1000)
                  : [],
              )
              .catch((err: unknown) => logger.warn({ err }, "sandbox expiry sweep failed"));
          }
        }, options.expiryIntervalMs ?? 5000)
      : undefined;
  expiry?.unref();
  return {
    backends: managers.backends,
    managers,
    ready: managers.ready,
    handlers: managers.ready
      ? sandboxJobHandlers(managers, {
          prompts: runtime.prompts,
          logger,
          workspaces: { runtime, workerId },
        })
      : {},
    status,
    async close() {
      for (const stop of stops) stop();
      if (expiry) clearInterval(expiry);
      if (refill) clearInterval(refill);
      await refilling;
      await managers.close();
      for (const close of closers) await close();
    },
  };
}
