import { randomBytes } from "node:crypto";
import { hostname as osHostname } from "node:os";
import type { EventBus, Logger } from "@aetherium/common";
import {
  createEvent,
  jobCatalog,
  type JobName,
  type VmBackend,
  type WorkerStatus,
} from "@aetherium/types";
import { DataPlane, type DataPlaneStats } from "../data-plane/data-plane-routes.js";
import { toWorker, createQueuesFor, workerQueueName } from "@aetherium/core";
import type {
  Consumer,
  JobHandler,
  JobHandlers,
  JobQueue,
  Repositories,
  WorkerRow,
} from "@aetherium/core";
import { SandboxManagers } from "../sandbox/sandbox-managers.js";
import { startInternalServer, type InternalServer } from "./internal-server.js";
import { createTaskRunner } from "./task-runner.js";
import { claimWorkerId } from "./worker-identity.js";
import { WorkerMetrics } from "./worker-metrics.js";

/** Everything a worker is and needs. */
export interface WorkerDaemonOptions {
  readonly id: string;
  readonly hostname?: string;
  readonly backends: readonly VmBackend[];
  readonly capacity: { readonly vcpus: number; readonly memoryMb: number; readonly maxVms: number };
  readonly zone?: string;
  readonly labels?: Record<string, string>;
  readonly version?: string;
  readonly heartbeatMs: number;
  /**
   * Silence after which a worker counts as gone. Given, start refuses (WorkerIdInUseError) an id
   * whose row another process heartbeats, waiting up to this long to tell a live process from
   * one that just crashed.
   */
  readonly offlineAfterMs?: number;
  /** False when the caller already claimed the id ({@link claimWorkerId}); default true. */
  readonly claimId?: boolean;
  /** Internal HTTP (healthz, metrics, data plane); port 0 picks a free one. */
  readonly internal: { readonly host: string; readonly port: number };
  /**
   * The address registered for gateways to reach the internal port (`http://host:port` or
   * `host:port`); default: the URL it listens on (the host name when bound to every interface).
   */
  readonly advertiseAddress?: string;
  /**
   * The data plane (`/internal/v1/…`: exec, streamed exec, files) on the internal port. Its
   * routes are always served and authenticated; without a ready backend they answer 503.
   */
  readonly dataPlane?: {
    readonly managers?: SandboxManagers;
    /** Unsent bytes an exec socket may hold before output is held back (default 1 MiB). */
    readonly maxBufferedBytes?: number;
    /** Largest file one upload may write (default 1 GiB). */
    readonly maxUploadBytes?: number;
  };
  /** How many jobs on its own sandboxes run at once. */
  readonly concurrency?: number;
  readonly queue: JobQueue;
  readonly repos: Repositories;
  readonly bus: EventBus;
  readonly handlers: JobHandlers;
  readonly logger: Logger;
}

const SHARED_JOBS = (Object.keys(jobCatalog) as JobName[]).filter(
  (n) => jobCatalog[n].routing === "shared",
);

/**
 * The worker process's heart: registers itself, takes jobs from its own queue and (while active
 * and not full) from the shared create queues of its backends, heartbeats with its real usage,
 * serves `/healthz` and `/metrics`, and shuts down by taking no new work and finishing — or, past
 * the deadline, handing back — what it runs.
 */
export class WorkerDaemon {
  readonly metrics = new WorkerMetrics();
  #row: WorkerRow | undefined;
  #own: Consumer | undefined;
  #creates: Consumer[] = [];
  #createsPaused = false;
  #timer: NodeJS.Timeout | undefined;
  #lastBeatOk = 0;
  #beating: Promise<void> | undefined;
  #internal: InternalServer | undefined;
  #dataPlane: DataPlane | undefined;
  #address: string | undefined;
  // Never logged, never in the public Worker shape: only in this worker's row.
  #token: string | undefined;
  #stopping = false;

  constructor(private readonly options: WorkerDaemonOptions) {}

  /** This worker's id. */
  get id(): string {
    return this.options.id;
  }

  /** The internal URL (`http://host:port`) once started; registered as the worker's address. */
  get internalUrl(): string {
    if (!this.#internal) throw new Error("worker not started");
    return this.#internal.url;
  }

  /** The address registered for gateways (`http://host:port`) once started. */
  get address(): string {
    if (!this.#address) throw new Error("worker not started");
    return this.#address;
  }

  /** What the data plane is doing (exec sessions, buffering high-water mark). */
  dataPlaneStats(): DataPlaneStats {
    return this.#dataPlane?.stats() ?? { execSessions: 0, maxBufferedBytes: 0 };
  }

  /**
   * Registers (with a fresh internal token: random 32 bytes, base64url, stored only in its
   * `workers` row), serves the internal port and starts consuming and heartbeating.
   */
  async start(): Promise<void> {
    const o = this.options;
    if (o.offlineAfterMs !== undefined && o.claimId !== false) {
      await claimWorkerId(o.repos, o.id, {
        heartbeatMs: o.heartbeatMs,
        offlineAfterMs: o.offlineAfterMs,
        logger: o.logger,
      });
    }
    this.#token = randomBytes(32).toString("base64url");
    this.#dataPlane = new DataPlane({
      managers: o.dataPlane?.managers ?? new SandboxManagers([]),
      token: this.#token,
      logger: o.logger,
      ...(o.dataPlane?.maxBufferedBytes !== undefined
        ? { maxBufferedBytes: o.dataPlane.maxBufferedBytes }
        : {}),
      ...(o.dataPlane?.maxUploadBytes !== undefined
        ? { maxUploadBytes: o.dataPlane.maxUploadBytes }
        : {}),
    });
    const dataPlane = this.#dataPlane;
    this.metrics.dataPlane = () => dataPlane.stats();
    this.#internal = await startInternalServer({
      dataPlane: this.#dataPlane,
      logger: o.logger,
      host: o.internal.host,
      port: o.internal.port,
      metrics: this.metrics,
      health: () => {
        const fresh = Date.now() - this.#lastBeatOk < 3 * o.heartbeatMs;
        return {
          healthy: fresh && !this.#stopping,
          body: {
            workerId: o.id,
            status: this.#row?.status ?? "starting",
            heartbeat: fresh ? "ok" : "stale",
            lastHeartbeatAt: this.#lastBeatOk ? new Date(this.#lastBeatOk).toISOString() : null,
          },
        };
      },
    });
    this.#address = advertisedAddress(o.advertiseAddress, o.internal.host, this.#internal.url);
    this.#row = await o.repos.workers.register(this.#registration());
    this.#lastBeatOk = Date.now();
    this.metrics.capacity.set({ resource: "vcpus" }, o.capacity.vcpus);
    this.metrics.capacity.set({ resource: "memory_mb" }, o.capacity.memoryMb);
    this.metrics.capacity.set({ resource: "vms" }, o.capacity.maxVms);
    await o.bus.publish(createEvent("worker.joined", { worker: toWorker(this.#row) }));

    const { handlers, hooks } = createTaskRunner(this.#instrument(o.handlers), {
      repos: o.repos,
      bus: o.bus,
      workerId: o.id,
      logger: o.logger,
    });
    this.#own = o.queue.consume(workerQueueName(o.id), handlers, {
      concurrency: o.concurrency ?? 8,
      hooks,
    });
    const shared: Partial<Record<JobName, JobHandler>> = {};
    for (const name of SHARED_JOBS) if (handlers[name]) shared[name] = handlers[name] as JobHandler;
    for (const q of createQueuesFor({ backends: [...o.backends], zone: o.zone ?? "" })) {
      // One create at a time per queue: each create reserves capacity, so taking several at
      // once would overshoot a nearly full worker before the next heartbeat notices.
      this.#creates.push(o.queue.consume(q, shared, { concurrency: 1, hooks }));
    }
    await this.#applyAdmission(this.#row);
    this.#timer = setInterval(() => void this.heartbeat(), o.heartbeatMs);
    o.logger.info(
      { workerId: o.id, address: this.#address, backends: o.backends },
      "worker started",
    );
  }

  /** One heartbeat: usage to the database, and admission (drain, capacity) back from it. */
  heartbeat(): Promise<void> {
    // Never two at once: a slow database must not stack heartbeats up.
    this.#beating ??= this.#beat().finally(() => (this.#beating = undefined));
    return this.#beating;
  }

  async #beat(): Promise<void> {
    const o = this.options;
    try {
      const usage = await o.repos.vms.usageForWorker(o.id);
      const before = this.#row;
      let row = await o.repos.workers.heartbeat(o.id, usage);
      if (!row) {
        // Someone removed our row: register again rather than run unseen.
        row = await o.repos.workers.register(this.#registration());
      }
      this.#row = row;
      this.#lastBeatOk = Date.now();
      this.metrics.up.set(1);
      this.metrics.used.set({ resource: "vcpus" }, usage.vcpus);
      this.metrics.used.set({ resource: "memory_mb" }, usage.memoryMb);
      this.metrics.used.set({ resource: "vms" }, usage.vms);
      await this.#applyAdmission(row);
      if (before && (before.status !== row.status || before.usedVms !== row.usedVms)) {
        await o.bus.publish(createEvent("worker.updated", { worker: toWorker(row) }));
      }
    } catch (err) {
      this.metrics.up.set(0);
      o.logger.warn({ err, workerId: o.id }, "heartbeat failed");
    }
  }

  #registration() {
    const o = this.options;
    return {
      id: o.id,
      hostname: o.hostname ?? osHostname(),
      address: this.address,
      backends: o.backends,
      zone: o.zone ?? null,
      labels: o.labels ?? {},
      capacity: o.capacity,
      version: o.version ?? null,
      internalToken: this.#token ?? null,
    };
  }

  /** Takes new sandboxes only while active and below capacity. */
  async #applyAdmission(row: WorkerRow): Promise<void> {
    const full =
      row.usedVms >= row.maxVms ||
      row.usedVcpus >= row.capacityVcpus ||
      row.usedMemoryMb >= row.capacityMemoryMb;
    const admit = !this.#stopping && row.status === "active" && !full;
    if (admit && this.#createsPaused) {
      for (const c of this.#creates) c.resume();
      this.#createsPaused = false;
    } else if (!admit && !this.#createsPaused) {
      this.#createsPaused = true;
      await Promise.all(this.#creates.map((c) => c.pause()));
    }
  }

  /** Sets this worker's status (drain/activate) and applies it at once. */
  async setStatus(status: WorkerStatus): Promise<void> {
    const row = await this.options.repos.workers.setStatus(this.options.id, status);
    if (row) {
      this.#row = row;
      await this.#applyAdmission(row);
    }
  }

  /**
   * Graceful stop: no new jobs, running ones get `graceMs` to finish; after that they are
   * aborted and their queue hands them to another worker (or the reaper fails them).
   */
  async stop(graceMs = 30_000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const o = this.options;
    if (this.#timer) clearInterval(this.#timer);
    await Promise.all(this.#creates.map((c) => c.pause()));
    const consumers = [this.#own, ...this.#creates].filter((c): c is Consumer => c !== undefined);
    let timer: NodeJS.Timeout | undefined;
    const graceful = Promise.all(consumers.map((c) => c.close(false))).then(() => "done" as const);
    const deadline = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), graceMs)));
    if ((await Promise.race([graceful, deadline])) === "late") {
      o.logger.warn({ workerId: o.id }, "running jobs did not finish in time; handing them back");
      await Promise.all(consumers.map((c) => c.close(true)));
    }
    clearTimeout(timer);
    const row = await o.repos.workers.setStatus(o.id, "offline").catch(() => undefined);
    if (row)
      await o.bus
        .publish(createEvent("worker.offline", { worker: toWorker(row) }))
        .catch(() => undefined);
    await this.#internal?.close();
    o.logger.info({ workerId: o.id }, "worker stopped");
  }

  #instrument(handlers: JobHandlers): JobHandlers {
    const out: Partial<Record<JobName, JobHandler>> = {};
    for (const name of Object.keys(handlers) as JobName[]) {
      const h = handlers[name] as JobHandler | undefined;
      if (!h) continue;
      out[name] = async (ctx) => {
        const end = this.metrics.jobSeconds.startTimer({ job: name });
        try {
          const result = await h(ctx);
          this.metrics.jobs.inc({ job: name, outcome: "succeeded" });
          return result;
        } catch (err) {
          this.metrics.jobs.inc({ job: name, outcome: "failed" });
          throw err;
        } finally {
          end();
        }
      };
    }
    return out;
  }
}

/**
 * The address gateways dial: the configured one (a bare `host:port` gets `http://`), else the URL
 * listened on, with the host name instead of a wildcard address nobody can dial.
 */
export function advertisedAddress(
  configured: string | undefined,
  listenHost: string,
  listenUrl: string,
): string {
  if (configured)
    return /^[a-z][a-z0-9+.-]*:\/\//i.test(configured) ? configured : `http://${configured}`;
  if (listenHost === "0.0.0.0" || listenHost === "::" || listenHost === "") {
    const url = new URL(listenUrl);
    url.hostname = osHostname();
    return url.origin;
  }
  return listenUrl;
}
