import type { Logger } from "@aetherium/common";
import { createEvent, jobCatalog, type JobName, type JobPayload } from "@aetherium/types";
import { toTask, toVm } from "../domain/mappers.js";
import type { TaskRow } from "../storage/repositories/tasks.js";
import type { ControlPlane } from "./open-control-plane.js";

/** What {@link recoverInterruptedWork} did. */
export interface RecoveryResult {
  /** Tasks whose job was put in the queue again (left queued, or retried after running). */
  readonly requeued: string[];
  /** Tasks that were running and are not safe to repeat: failed with a reason. */
  readonly failed: string[];
  /** Executions that were running: ended with a reason, their stored output kept. */
  readonly endedExecutions: string[];
  /** Sandboxes whose create was interrupted: back to `pending` for the create to run again. */
  readonly replacedVms: string[];
}

const STOPPED = "the process running it stopped before it finished";

/**
 * Settles what the previous process of a single-process install (`aetherium start`: PGlite and
 * the in-process queue, whose jobs live only in memory) left unfinished when it died: executions
 * still open end with a reason; tasks left `queued` (or `pending`) get their job again; tasks left
 * `running` run again when their job is safe to repeat (the job catalog allows retries and an
 * attempt is left) and fail with a reason otherwise. A create that had not finished puts its
 * sandbox back to `pending`, so the repeated job builds it afresh. Call it before any consumer
 * starts, and only where nothing else shares the database: in distributed mode the reaper and the
 * queue's stalled-job recovery do this job.
 */
export async function recoverInterruptedWork(
  runtime: Pick<ControlPlane, "repos" | "queue" | "bus">,
  logger?: Logger,
): Promise<RecoveryResult> {
  const { repos, queue, bus } = runtime;
  const result: RecoveryResult = {
    requeued: [],
    failed: [],
    endedExecutions: [],
    replacedVms: [],
  };
  result.endedExecutions.push(
    ...(await repos.executions.failAllUnfinished(
      "the process running it stopped before the command finished",
    )),
  );
  const publish = async (event: Parameters<typeof bus.publish>[0]) => {
    await bus.publish(event).catch((err: unknown) => logger?.warn({ err }, "publish failed"));
  };
  const fail = async (task: TaskRow, reason: string) => {
    const failed = await repos.tasks.markFailed(task.id, reason);
    if (failed) {
      result.failed.push(failed.id);
      await publish(createEvent("task.failed", { task: toTask(failed) }));
    }
  };

  for (let task of await repos.tasks.listUnfinished()) {
    const name = task.type as JobName;
    const definition = jobCatalog[name] as (typeof jobCatalog)[JobName] | undefined;
    if (!definition) {
      await fail(task, `${STOPPED}; ${task.type} is not a known job`);
      continue;
    }
    if (task.status === "running") {
      if (definition.retry.attempts <= 1) {
        await fail(
          task,
          `${STOPPED}; ${name} is not re-run automatically because repeating it is not safe`,
        );
        continue;
      }
      const retried = await repos.tasks.markRetrying(task.id, `${STOPPED}; running it again`);
      if (!retried) {
        await fail(task, `${STOPPED} and no attempt is left`);
        continue;
      }
      task = retried;
      await publish(
        createEvent("task.retrying", {
          task: toTask(task),
          error: task.error ?? STOPPED,
          delayMs: 0,
        }),
      );
    }
    if (name === "vm:create") await unassignCreate(task);
    try {
      const delayMs = task.scheduledAt.getTime() - Date.now();
      await queue.enqueue(name, task.payload as JobPayload<typeof name>, {
        jobId: task.id,
        queue: task.queue,
        priority: task.priority,
        ...(delayMs > 0 ? { delayMs } : {}),
      });
      result.requeued.push(task.id);
    } catch (err) {
      await fail(task, `${STOPPED} and could not be queued again: ${(err as Error).message}`);
    }
  }
  if (result.requeued.length + result.failed.length + result.endedExecutions.length > 0) {
    logger?.warn({ ...result }, "settled work the previous process left unfinished");
  }
  return result;

  async function unassignCreate(task: TaskRow): Promise<void> {
    const vmId = (task.payload as { vmId?: unknown } | null)?.vmId;
    if (typeof vmId !== "string") return;
    const vm = await repos.vms.get(vmId);
    if (!vm?.workerId) return;
    const pending = await repos.vms.unassignUnstarted(
      vm.id,
      vm.workerId,
      `${STOPPED}; creating it again`,
    );
    if (pending) {
      result.replacedVms.push(pending.id);
      await publish(createEvent("vm.created", { vm: toVm(pending), previousStatus: vm.status }));
    }
  }
}
