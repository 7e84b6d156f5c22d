import type { EventBus, Logger } from "@aetherium/common";
import { createEvent, jobCatalog, type JobName } from "@aetherium/types";
import {
  JobCancelledError,
  type JobContext,
  type JobHandler,
  type JobHandlers,
  type JobHooks,
  toTask,
} from "@aetherium/core";
import type { Repositories, TaskRow, JsonValue } from "@aetherium/core";

/** Thrown instead of re-running a job that is not safe to repeat after its worker died. */
export class InterruptedJobError extends Error {
  override readonly name = "InterruptedJobError";
}

/** What a worker needs to keep `tasks` rows and events truthful while it runs jobs. */
export interface TaskRunnerDeps {
  readonly repos: Repositories;
  readonly bus: EventBus;
  readonly workerId: string;
  readonly logger?: Logger;
  /** Jobs done sooner than this are recorded with one write; default 50 ms. */
  readonly fastMs?: number;
}

/**
 * Wraps job handlers so every attempt is recorded: the row goes `running` on this worker once the
 * handler has run for `fastMs` (a job done sooner goes straight to `succeeded` in one write, with
 * its real start time), and the queue's hooks write the outcome. A cancel that arrives while the
 * job waits removes it from the queue; one that arrives while it runs aborts its signal. A job recovered from a dead worker is re-run only when its
 * catalog entry allows retries; otherwise it fails with a reason instead of repeating a side
 * effect by surprise.
 */
export function createTaskRunner(
  handlers: JobHandlers,
  deps: TaskRunnerDeps,
): { handlers: JobHandlers; hooks: JobHooks } {
  const { repos, bus, workerId } = deps;
  const fastMs = deps.fastMs ?? 50;
  const publish = async (
    type: "task.started" | "task.succeeded" | "task.failed" | "task.cancelled",
    row: TaskRow,
  ) => {
    await bus.publish(createEvent(type, { task: toTask(row) }));
  };

  const claim = async (ctx: JobContext): Promise<TaskRow | "skip"> => {
    const row = await repos.tasks.markRunning(ctx.id, workerId);
    if (row) return row;
    const current = await repos.tasks.get(ctx.id);
    if (!current) throw new Error(`task ${ctx.id} has no record; refusing to run an untracked job`);
    if (current.cancelRequestedAt || current.status === "cancelled") {
      throw new JobCancelledError("cancelled before it started");
    }
    if (current.status === "running" && ctx.recovered) {
      if (jobCatalog[ctx.name].retry.attempts <= 1) {
        throw new InterruptedJobError(
          `the worker running this task (${current.workerId ?? "unknown"}) died mid-run; ` +
            `${ctx.name} is not re-run automatically because repeating it is not safe`,
        );
      }
      const recovered = await repos.tasks.claimRecovered(ctx.id, workerId);
      if (recovered) return recovered;
    }
    // Finished already (a duplicate delivery): never run it twice.
    deps.logger?.warn(
      { taskId: ctx.id, status: current.status },
      "skipping a job whose task is not runnable",
    );
    return "skip";
  };

  // Jobs that finish within FAST_MS get one write (queued → succeeded) instead of two; a job
  // still running then is marked `running` as usual. Nobody can tell the difference inside a
  // few milliseconds, and the row still records who ran it and when it started.
  const attempts = new Map<string, Attempt>();
  const key = (ctx: JobContext) => `${ctx.queue}/${ctx.id}/${ctx.attempt}`;

  const wrapped: Record<string, JobHandler> = {};
  for (const name of Object.keys(handlers) as JobName[]) {
    const handler = handlers[name] as JobHandler | undefined;
    if (!handler) continue;
    wrapped[name] = async (ctx: JobContext) => {
      if (ctx.recovered) {
        // A job its dead worker had claimed: decide with the row before anything runs.
        const claimed = await claim(ctx);
        if (claimed === "skip") return undefined;
        attempts.set(key(ctx), { claimed: Promise.resolve(claimed), startedAt: new Date() });
        await publish("task.started", claimed);
        return handler(ctx);
      }
      const attempt: Attempt = { claimed: undefined, startedAt: new Date() };
      attempts.set(key(ctx), attempt);
      const timer = setTimeout(() => {
        attempt.claimed = claim(ctx).then(async (row) => {
          if (row !== "skip") await publish("task.started", row);
          return row;
        });
        // Its outcome is awaited by the hooks; keep a rejection from going unhandled meanwhile.
        attempt.claimed.catch(() => undefined);
      }, fastMs);
      try {
        return await handler(ctx);
      } finally {
        clearTimeout(timer);
      }
    };
  }

  /** Makes sure the row says `running` on this worker before a retry or failure is written. */
  const ensureClaimed = async (ctx: JobContext): Promise<void> => {
    const attempt = attempts.get(key(ctx));
    if (attempt && !attempt.claimed) attempt.claimed = claim(ctx);
    await attempt?.claimed?.catch(() => undefined);
  };

  const hooks: JobHooks = {
    async onSuccess(ctx, result) {
      const attempt = attempts.get(key(ctx));
      attempts.delete(key(ctx));
      const value = (result ?? null) as JsonValue;
      let row: TaskRow | undefined;
      if (attempt && !attempt.claimed) {
        row = await repos.tasks.markSucceededDirectly(ctx.id, workerId, attempt.startedAt, value);
        if (row) {
          await publish("task.succeeded", row);
          return;
        }
      }
      if (attempt?.claimed && (await attempt.claimed.catch(() => "skip" as const)) === "skip")
        return;
      row = await repos.tasks.markSucceeded(ctx.id, value);
      if (row) await publish("task.succeeded", row);
    },
    async onRetry(ctx, error, delayMs) {
      await ensureClaimed(ctx);
      attempts.delete(key(ctx));
      const row = await repos.tasks.markRetrying(ctx.id, error.message, {
        retryAt: new Date(Date.now() + delayMs),
      });
      if (row) {
        await bus.publish(
          createEvent("task.retrying", { task: toTask(row), error: error.message, delayMs }),
        );
      }
    },
    async onHandBack(ctx) {
      // The row may have been marked running meanwhile: it is queued again, attempt not counted.
      const attempt = attempts.get(key(ctx));
      attempts.delete(key(ctx));
      if (attempt?.claimed && (await attempt.claimed.catch(() => "skip" as const)) !== "skip") {
        await repos.tasks.markHandedBack(ctx.id);
      }
    },
    async onFailure(ctx, error) {
      if (!(error instanceof JobCancelledError)) await ensureClaimed(ctx);
      attempts.delete(key(ctx));
      if (error instanceof JobCancelledError) {
        const row = await repos.tasks.markCancelled(ctx.id);
        if (row) await publish("task.cancelled", row);
        return;
      }
      const row = await repos.tasks.markFailed(ctx.id, error.message);
      if (row) await publish("task.failed", row);
    },
  };
  return { handlers: wrapped, hooks };
}

/** One attempt in flight on this worker: whether (and how) its row was claimed. */
interface Attempt {
  claimed: Promise<TaskRow | "skip"> | undefined;
  readonly startedAt: Date;
}
