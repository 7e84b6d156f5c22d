import type { EventBus, Logger } from "@aetherium/common";
import { createEvent, jobCatalog, type JobName } from "@aetherium/types";
import { toTask, toVm, toWorker } from "../domain/mappers.js";
import type { JobQueue } from "../queue/job-queue.js";
import { workerQueueName } from "../routing/routing.js";
import type { Exclusive } from "../storage/advisory-lock.js";
import type { Repositories } from "../storage/repositories/create-repositories.js";
import type { TaskRow } from "../storage/repositories/tasks.js";

/** Advisory lock key that lets one reaper at a time sweep the fleet ("AETHRP"). */
export const REAPER_LOCK_KEY = 0x4145_5448_5250;

/** What one sweep found and did. */
export interface ReapResult {
  readonly offlineWorkers: string[];
  readonly lostVms: string[];
  readonly failedTasks: string[];
  /** Creates the dead worker had not finished, back in the shared queue for a healthy worker. */
  readonly replacedVms: string[];
  /** Executions ended with "worker … went offline" (their output so far is kept). */
  readonly endedExecutions: string[];
  /** False when another process held the fleet-wide lock and this sweep did nothing. */
  readonly ran: boolean;
}

/**
 * Tells the truth about workers that stopped heartbeating: marks them `offline`, ends the
 * executions that were running on them (keeping the output stored so far), places creates they
 * had not finished again, marks their other sandboxes `lost`, and fails the tasks stranded on them
 * — those in their private queue, and running ones that will not be recovered elsewhere — so a
 * client sees what happened within `offlineAfterMs` plus one sweep interval instead of waiting
 * forever. Runs in gateways as well as workers, so it works with every worker down; with an
 * `exclusive` lock only one process sweeps at a time, and each change is a guarded UPDATE anyway.
 */
export class Reaper {
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<ReapResult> | undefined;

  constructor(
    private readonly deps: {
      readonly repos: Repositories;
      readonly bus: EventBus;
      readonly queue: JobQueue;
      readonly offlineAfterMs: number;
      readonly logger?: Logger;
      /** Fleet-wide mutual exclusion (see `advisoryExclusive`); without it every sweep runs. */
      readonly exclusive?: Exclusive;
      /** Stops idle workspaces' sandboxes in the same sweep, under the same lock. */
      readonly workspaces?: { sweepIdle(now: Date): Promise<string[]> };
    },
  ) {}

  /** Sweeps every `intervalMs` until {@link Reaper.stop}. */
  start(intervalMs: number): void {
    this.#timer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.deps.logger?.warn({ err }, "reaper sweep failed"));
    }, intervalMs);
    this.#timer.unref();
  }

  /** Stops sweeping and waits for a sweep in progress. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#sweeping?.catch(() => undefined);
  }

  /** One pass over the fleet (never two at once in this process). */
  sweep(now: Date = new Date()): Promise<ReapResult> {
    this.#sweeping ??= this.#exclusiveSweep(now).finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  async #exclusiveSweep(now: Date): Promise<ReapResult> {
    const sweep = async () => {
      const result = await this.#sweep(now);
      await this.deps.workspaces
        ?.sweepIdle(now)
        .catch((err: unknown) => this.deps.logger?.warn({ err }, "idle workspace sweep failed"));
      return result;
    };
    if (!this.deps.exclusive) return sweep();
    return (await this.deps.exclusive(sweep)) ?? { ...emptyResult(), ran: false };
  }

  /**
   * Events tell followers; the rows are the truth. A worker is marked offline once, so a bus
   * failure must not cut its settling short and leave the rest of its work unsettled for good.
   */
  async #publish(event: Parameters<EventBus["publish"]>[0]): Promise<void> {
    await this.deps.bus
      .publish(event)
      .catch((err: unknown) =>
        this.deps.logger?.warn({ err }, "reaper could not publish an event"),
      );
  }

  async #sweep(now: Date): Promise<ReapResult> {
    const { repos } = this.deps;
    const cutoff = new Date(now.getTime() - this.deps.offlineAfterMs);
    const result = emptyResult();
    for (const stale of await repos.workers.listStale(cutoff)) {
      const worker = await repos.workers.markOfflineIfStale(stale.id, cutoff);
      if (!worker) continue; // it heartbeated meanwhile, or another reaper took it
      result.offlineWorkers.push(worker.id);
      this.deps.logger?.warn(
        { workerId: worker.id, lastSeenAt: worker.lastSeenAt },
        "worker went silent; marking offline",
      );
      await this.#publish(createEvent("worker.offline", { worker: toWorker(worker, now) }));
      const reason = `worker ${worker.id} went offline`;

      // Before the sandboxes change hands: executions are found through their sandbox's worker.
      result.endedExecutions.push(
        ...(await repos.executions.failUnfinishedOnWorker(
          worker.id,
          `${reason} before the command finished`,
        )),
      );

      const ownQueue = workerQueueName(worker.id);
      const stranded = [
        ...(await repos.tasks.listUnfinishedInQueue(ownQueue)),
        ...(await repos.tasks.listUnfinishedForWorker(worker.id)),
      ];
      const seen = new Set<string>();
      for (const task of stranded) {
        if (seen.has(task.id)) continue;
        seen.add(task.id);
        if (await this.#requeue(task, worker.id, ownQueue, result)) continue;
        await this.deps.queue.cancel(task.id, task.queue).catch(() => undefined);
        const failed = await repos.tasks.markFailed(task.id, `${reason} before the task finished`);
        if (failed) {
          result.failedTasks.push(failed.id);
          await this.#publish(createEvent("task.failed", { task: toTask(failed) }));
        }
      }

      for (const vmId of await repos.vms.markLostForWorker(worker.id, reason)) {
        result.lostVms.push(vmId);
        const vm = await repos.vms.get(vmId);
        if (vm) await this.#publish(createEvent("vm.lost", { vm: toVm(vm), previousStatus: null }));
      }
    }
    return result;
  }

  /**
   * A retryable job in a shared queue goes back to `queued` (on no worker): the queue hands it to
   * another worker when its lock expires (stalled-job recovery), and until then the row says it
   * waits rather than that it runs on a dead worker. A create's sandbox that never ran goes back
   * to `pending` on no worker, so the recovered job builds it afresh wherever it lands. Returns
   * false when the task must be failed instead.
   */
  async #requeue(
    task: TaskRow,
    workerId: string,
    ownQueue: string,
    result: ReapResult,
  ): Promise<boolean> {
    const { repos } = this.deps;
    const retryable =
      task.queue !== ownQueue && (jobCatalog[task.type as JobName]?.retry.attempts ?? 1) > 1;
    if (!retryable) return false;
    const error = `worker ${workerId} went offline; placing the task again`;
    if (task.status === "running") {
      const queued = await repos.tasks.markRetrying(task.id, error, { onWorker: workerId });
      if (!queued) {
        // Still running there means no attempt is left (or a cancel was asked): fail it. Moved
        // on means another worker recovered it meanwhile: leave it be.
        const now = await repos.tasks.get(task.id);
        return !(now?.status === "running" && now.workerId === workerId);
      }
      await this.#publish(
        createEvent("task.retrying", { task: toTask(queued), error, delayMs: 0 }),
      );
    }
    const vmId = task.type === "vm:create" ? payloadVmId(task) : undefined;
    if (vmId) {
      const vm = await repos.vms.unassignUnstarted(vmId, workerId, error);
      if (vm) {
        result.replacedVms.push(vm.id);
        await this.#publish(createEvent("vm.created", { vm: toVm(vm), previousStatus: null }));
      }
    }
    return true;
  }
}

function emptyResult(): ReapResult {
  return {
    offlineWorkers: [],
    lostVms: [],
    failedTasks: [],
    replacedVms: [],
    endedExecutions: [],
    ran: true,
  };
}

function payloadVmId(task: TaskRow): string | undefined {
  const payload = task.payload as { vmId?: unknown } | null;
  return typeof payload?.vmId === "string" ? payload.vmId : undefined;
}
