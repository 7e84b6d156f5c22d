import type { EventBus } from "@aetherium/common";
import type { TaskService } from "@aetherium/core";
import { isTerminalTaskStatus, type DomainEvent, type Task } from "@aetherium/types";

/** How often a wait re-reads the task even without an event: the bus is best-effort. */
const RECHECK_MS = 1000;

/**
 * Resolves with the task once it has finished (succeeded, failed or cancelled), or with its
 * latest state after `timeoutMs`. Listens for its `task.*` events and re-reads the row on each
 * one, and every second regardless, since events may be missed (at-most-once delivery) and the
 * row is the truth. Subscribes before the first read so a change in between is never missed.
 */
export async function waitForTask(
  deps: { bus: EventBus; tasks: Pick<TaskService, "get"> },
  taskId: string,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<Task> {
  let wake: (() => void) | undefined;
  const unsubscribe = deps.bus.subscribe(["task.*"], (event: DomainEvent) => {
    if ("task" in event.data && event.data.task.id === taskId) wake?.();
  });
  const deadline = Date.now() + options.timeoutMs;
  try {
    for (;;) {
      const task = await deps.tasks.get(taskId);
      const left = deadline - Date.now();
      if (isTerminalTaskStatus(task.status) || left <= 0 || options.signal?.aborted) return task;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(RECHECK_MS, left));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        options.signal?.addEventListener("abort", wake, { once: true });
      });
      wake = undefined;
    }
  } finally {
    unsubscribe();
  }
}

/** An AbortSignal that fires when the client of `raw` goes away, so waits stop early. */
export function clientGone(raw: { once(event: "close", fn: () => void): unknown }): AbortSignal {
  const ctl = new AbortController();
  raw.once("close", () => ctl.abort());
  return ctl.signal;
}
