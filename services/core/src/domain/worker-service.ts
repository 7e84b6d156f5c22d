import { NotFoundError, type EventBus } from "@aetherium/common";
import { createEvent, type ClusterStats, type Worker, type WorkerStatus } from "@aetherium/types";
import type { JobQueue } from "../queue/job-queue.js";
import { createQueuesFor, workerQueueName } from "../routing/routing.js";
import type { Repositories } from "../storage/repositories/create-repositories.js";
import { toWorker } from "./mappers.js";

/** The fleet as the API shows it, and the drain/activate switch. */
export class WorkerService {
  constructor(
    private readonly repos: Repositories,
    private readonly queue: JobQueue,
    private readonly bus: EventBus,
  ) {}

  /** Every worker, with `healthy` derived from its last heartbeat. */
  async list(filter: { status?: WorkerStatus; zone?: string } = {}): Promise<Worker[]> {
    const now = new Date();
    return (await this.repos.workers.list(filter)).map((w) => toWorker(w, now));
  }

  /** One worker, or NotFoundError. */
  async get(id: string): Promise<Worker> {
    const row = await this.repos.workers.get(id);
    if (!row) throw new NotFoundError("worker", id);
    return toWorker(row);
  }

  /** A draining worker keeps its sandboxes and finishes its jobs but takes no new sandbox. */
  async drain(id: string): Promise<Worker> {
    return this.#setStatus(id, "draining", "worker.draining");
  }

  /** Makes a draining worker take new sandboxes again. */
  async activate(id: string): Promise<Worker> {
    return this.#setStatus(id, "active", "worker.activated");
  }

  async #setStatus(
    id: string,
    status: WorkerStatus,
    event: "worker.draining" | "worker.activated",
  ) {
    const row = await this.repos.workers.setStatus(id, status);
    if (!row) throw new NotFoundError("worker", id);
    const worker = toWorker(row);
    await this.bus.publish(createEvent(event, { worker }));
    return worker;
  }

  /** Totals across the fleet and the depth of every queue a worker consumes. */
  async clusterStats(): Promise<ClusterStats> {
    const now = new Date();
    const workers = (await this.repos.workers.list()).map((w) => toWorker(w, now));
    const stats: ClusterStats = {
      workers: { total: workers.length, active: 0, draining: 0, offline: 0, healthy: 0 },
      capacity: { vcpus: 0, memoryMb: 0, vms: 0 },
      used: { vcpus: 0, memoryMb: 0, vms: 0 },
      vms: await this.repos.vms.countByStatus(),
      zones: {},
      queues: {},
    };
    const queues = new Set<string>();
    for (const w of workers) {
      stats.workers[w.status]++;
      if (w.healthy) stats.workers.healthy++;
      if (w.status !== "offline") {
        stats.capacity.vcpus += w.capacity.vcpus;
        stats.capacity.memoryMb += w.capacity.memoryMb;
        stats.capacity.vms += w.capacity.maxVms;
        stats.used.vcpus += w.used.vcpus;
        stats.used.memoryMb += w.used.memoryMb;
        stats.used.vms += w.used.vms;
      }
      if (w.zone) stats.zones[w.zone] = (stats.zones[w.zone] ?? 0) + 1;
      queues.add(workerQueueName(w.id));
      for (const q of createQueuesFor(w)) queues.add(q);
    }
    const failed = await this.repos.tasks.countFailedByQueue();
    for (const q of [...queues].sort()) {
      const c = await this.queue.counts(q);
      stats.queues[q] = {
        waiting: c.waiting,
        active: c.active,
        delayed: c.delayed,
        failed: failed[q] ?? 0,
      };
    }
    return stats;
  }
}
