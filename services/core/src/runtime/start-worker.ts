import { cpus, totalmem } from "node:os";
import type { Config, Logger } from "@aetherium/common";
import type { VmBackend } from "@aetherium/types";
import type { JobHandlers } from "../queue/job-queue.js";
import type { SandboxManager } from "../sandbox/sandbox-manager.js";
import { AETHERIUM_VERSION } from "../version.js";
import type { Reaper } from "../worker/reaper.js";
import { WorkerDaemon } from "../worker/worker-daemon.js";
import type { Runtime } from "./open-runtime.js";
import { startReaper } from "./start-reaper.js";
import { workerIdFor } from "./sandbox-runtime.js";

/** A running worker and the reaper beside it. */
export interface StartedWorker {
  readonly daemon: WorkerDaemon;
  readonly reaper: Reaper;
  /** Stops the reaper, then the daemon (finishing or handing back its jobs within `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts this host's worker from config: registers it, consumes its queues with `handlers`,
 * heartbeats, serves `/healthz`, `/metrics` and the data plane (`/internal/v1/…`: exec, exec
 * WebSocket, files, for gateways) on `worker.internalPort`, registering
 * `worker.advertiseAddress` when set, and runs a reaper so
 * silent workers elsewhere are found out (see {@link startReaper}).
 */
export async function startWorker(
  runtime: Runtime,
  config: Config,
  options: {
    readonly logger: Logger;
    readonly backends: readonly VmBackend[];
    readonly handlers: JobHandlers;
    /** Host for the internal port; the worker's registered address uses it. */
    readonly internalHost?: string;
    /** Overrides `worker.internalPort` (0 picks a free port; embedded mode uses that). */
    readonly internalPort?: number;
    /** The sandboxes the data plane serves (`openSandboxRuntime().manager`); without one its routes answer 503. */
    readonly manager?: SandboxManager;
  },
): Promise<StartedWorker> {
  const daemon = new WorkerDaemon({
    id: workerIdFor(config),
    backends: options.backends,
    // Unset capacity means this host's: every CPU, and three quarters of its memory (the rest
    // stays for the engine, the worker and the page cache).
    capacity: {
      vcpus: config.worker.capacity.vcpus ?? cpus().length,
      memoryMb: config.worker.capacity.memoryMb ?? Math.floor((totalmem() / 1024 / 1024) * 0.75),
      maxVms: config.worker.capacity.maxVms,
    },
    zone: config.worker.zone,
    labels: config.worker.labels,
    version: AETHERIUM_VERSION,
    heartbeatMs: config.worker.heartbeatMs,
    offlineAfterMs: config.worker.offlineAfterMs,
    // openSandboxRuntime claimed the id already when it made the manager; an embedded
    // database belongs to this one process.
    claimId: runtime.mode === "distributed" && !options.manager,
    internal: {
      host: options.internalHost ?? config.server.host,
      port: options.internalPort ?? config.worker.internalPort,
    },
    ...(config.worker.advertiseAddress ? { advertiseAddress: config.worker.advertiseAddress } : {}),
    // The gateway's upload limit holds here too: a gateway of another version or configuration
    // cannot have a worker write more.
    dataPlane: {
      manager: options.manager,
      maxUploadBytes: config.server.maxUploadMb * 1024 * 1024,
    },
    concurrency: config.queue.concurrency,
    queue: runtime.queue,
    repos: runtime.repos,
    bus: runtime.bus,
    handlers: options.handlers,
    logger: options.logger,
  });
  await daemon.start();
  const reaper = startReaper(runtime, config, options.logger);
  return {
    daemon,
    reaper,
    async stop(graceMs = 30_000) {
      await reaper.stop();
      await daemon.stop(graceMs);
    },
  };
}
