import type { EventBus, Logger } from "@aetherium/common";
import { createEvent, jobCatalog, type JobName } from "@aetherium/types";
import { toTask, toVm, toWorker } from "../domain/mappers.js";
import type { JobQueue } from "../queue/job-queue.js";
import { workerQueueName } from "../routing/routing.js";
import type { Repositories } from "../storage/repositories/create-repositories.js";

/** What one sweep found and did. */
export interface ReapResult {
  readonly offlineWorkers: string[];
  readonly lostVms: string[];
  readonly failedTasks: string[];
}

/**
 * Tells the truth about workers that stopped heartbeating: marks them `offline`, their sandboxes
 * `lost`, and fails the tasks stranded on them — those in their private queue, and running ones
 * that will not be recovered elsewhere — so a client sees what happened within seconds instead
 * of waiting forever. Safe to run in every process at once: each change is a guarded UPDATE, so
 * exactly one reaper acts on a given worker.
 */
export class Reaper {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      readonly repos: Repositories;
      readonly bus: EventBus;
      readonly queue: JobQueue;
      readonly offlineAfterMs: number;
      readonly logger?: Logger;
    },
  ) {}

  /** Sweeps every `intervalMs` until {@link Reaper.stop}. */
  start(intervalMs: number): void {
    this.#timer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.deps.logger?.warn({ err }, "reaper sweep failed"));
    }, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  /** One pass over the fleet. */
  async sweep(now: Date = new Date()): Promise<ReapResult> {
    const { repos, bus, queue } = this.deps;
    const cutoff = new Date(now.getTime() - this.deps.offlineAfterMs);
    const result: ReapResult = { offlineWorkers: [], lostVms: [], failedTasks: [] };
    for (const stale of await repos.workers.listStale(cutoff)) {
      const worker = await repos.workers.markOfflineIfStale(stale.id, cutoff);
      if (!worker) continue; // it heartbeated meanwhile, or another reaper took it
      result.offlineWorkers.push(worker.id);
      this.deps.logger?.warn(
        { workerId: worker.id, lastSeenAt: worker.lastSeenAt },
        "worker went silent; marking offline",
      );
      await bus.publish(createEvent("worker.offline", { worker: toWorker(worker, now) }));

      for (const vmId of await repos.vms.markLostForWorker(
        worker.id,
        `worker ${worker.id} went offline`,
      )) {
        result.lostVms.push(vmId);
        const vm = await repos.vms.get(vmId);
        if (vm) await bus.publish(createEvent("vm.lost", { vm: toVm(vm), previousStatus: null }));
      }

      const ownQueue = workerQueueName(worker.id);
      const stranded = [
        ...(await repos.tasks.listUnfinishedInQueue(ownQueue)),
        ...(await repos.tasks.listUnfinishedForWorker(worker.id)),
      ];
      const seen = new Set<string>();
      for (const task of stranded) {
        if (seen.has(task.id)) continue;
        seen.add(task.id);
        // A retryable job in a shared queue is picked up again by another worker when its lock
        // expires (stalled-job recovery); everything else would wait forever.
        const recoverable =
          task.queue !== ownQueue && (jobCatalog[task.type as JobName]?.retry.attempts ?? 1) > 1;
        if (recoverable) continue;
        await queue.cancel(task.id, task.queue).catch(() => undefined);
        const failed = await repos.tasks.markFailed(
          task.id,
          `worker ${worker.id} went offline before the task finished`,
        );
        if (failed) {
          result.failedTasks.push(failed.id);
          await bus.publish(createEvent("task.failed", { task: toTask(failed) }));
        }
      }
    }
    return result;
  }
}
