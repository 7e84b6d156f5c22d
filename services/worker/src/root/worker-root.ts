import { cpus, totalmem } from "node:os";
import type { Config, Logger } from "@aetherium/common";
import {
  openSharedControlPlane,
  startReaper,
  type JobHandlers,
  type Reaper,
  type ControlPlane,
} from "@aetherium/core";
import { AETHERIUM_VERSION, type VmBackend } from "@aetherium/types";
import { WorkerDaemon } from "../daemon/worker-daemon.js";
import {
  openWorkerSandboxes,
  workerIdFor,
  type WorkerSandboxes,
  type WorkerSandboxesOptions,
} from "./worker-sandboxes.js";

/** What {@link startWorkerProcess} may change from what the config says. */
export interface WorkerRootOptions {
  readonly logger: Logger;
  /** Host for the internal port; the worker's registered address uses it. */
  readonly internalHost?: string;
  /** Overrides `worker.internalPort` (0 picks a free port; `aetherium start` uses that). */
  readonly internalPort?: number;
  /**
   * Run a reaper beside the worker (default true), so silent workers elsewhere are found out.
   * `aetherium start` leaves it to the gateway beside it.
   */
  readonly reaper?: boolean;
  /** Timings of the sandbox runtime (tests shorten them). */
  readonly sandbox?: WorkerSandboxesOptions;
  /**
   * Instead of this host's sandbox backends, consume the queues of `backends` with `handlers`:
   * for fleet tests and queue benchmarks that exercise the daemon without sandboxes.
   */
  readonly jobs?: { readonly backends: readonly VmBackend[]; readonly handlers: JobHandlers };
}

/** A running worker: its daemon, its sandboxes and the reaper beside it. */
export interface WorkerProcess {
  readonly daemon: WorkerDaemon;
  /** Absent when {@link WorkerRootOptions.jobs} replaced the sandbox backends. */
  readonly sandboxes: WorkerSandboxes | undefined;
  readonly reaper: Reaper | undefined;
  /** Stops the reaper, the daemon (finishing or handing back its jobs within `graceMs`), then the sandboxes. */
  close(graceMs?: number): Promise<void>;
}

/**
 * The worker's composition root over an open control-plane `runtime`: finds this host's sandbox
 * backends and wires a manager for each, then registers the worker, consumes its queues,
 * heartbeats, and serves `/healthz`, `/metrics` and the data plane on `worker.internalPort`
 * (registering `worker.advertiseAddress` when set). `aetherium worker`, `aetherium start`, the
 * tests and the benchmarks all start workers here.
 */
export async function startWorkerProcess(
  runtime: ControlPlane,
  config: Config,
  options: WorkerRootOptions,
): Promise<WorkerProcess> {
  const { logger } = options;
  const sandboxes = options.jobs
    ? undefined
    : await openWorkerSandboxes(runtime, config, logger, options.sandbox);
  try {
    const daemon = new WorkerDaemon({
      id: workerIdFor(config),
      backends: options.jobs?.backends ?? sandboxes?.backends ?? [],
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
      // The sandbox runtime claimed the id already when it made its managers; an embedded
      // database belongs to this one process.
      claimId: runtime.mode === "distributed" && !sandboxes?.ready,
      internal: {
        host: options.internalHost ?? config.server.host,
        port: options.internalPort ?? config.worker.internalPort,
      },
      ...(config.worker.advertiseAddress
        ? { advertiseAddress: config.worker.advertiseAddress }
        : {}),
      // The gateway's upload limit holds here too: a gateway of another version or
      // configuration cannot have a worker write more.
      dataPlane: {
        ...(sandboxes ? { managers: sandboxes.managers } : {}),
        maxUploadBytes: config.server.maxUploadMb * 1024 * 1024,
      },
      concurrency: config.queue.concurrency,
      queue: runtime.queue,
      repos: runtime.repos,
      bus: runtime.bus,
      handlers: options.jobs?.handlers ?? sandboxes?.handlers ?? {},
      logger,
    });
    await daemon.start();
    const reaper = options.reaper === false ? undefined : startReaper(runtime, config, logger);
    return {
      daemon,
      sandboxes,
      reaper,
      async close(graceMs = 30_000) {
        await reaper?.stop();
        await daemon.stop(graceMs);
        await sandboxes?.close();
      },
    };
  } catch (err) {
    await sandboxes?.close();
    throw err;
  }
}

/**
 * `aetherium worker`: one per host in the distributed setup. Runs until SIGTERM/SIGINT, then
 * stops taking jobs and finishes (or hands back) the running ones before exiting.
 */
export async function runWorker(
  config: Config,
  logger: Logger,
  print: (line: string) => void,
): Promise<void> {
  const { runtime, shutdown } = await openSharedControlPlane(config, { logger, role: "worker" });
  const worker = await startWorkerProcess(runtime, config, { logger });
  shutdown.register("worker", () => worker.close());
  for (const b of worker.sandboxes?.status ?? [])
    print(`${b.backend}: ${b.ready ? "ready" : "unavailable"}: ${b.detail}`);
  print(`worker ${worker.daemon.id} running; health at ${worker.daemon.internalUrl}/healthz`);
}
