/**
 * `aether task ls|get|cancel`.
 * @module
 */
import {
  taskStatusSchema,
  taskTypeSchema,
  type Task,
  type TaskStatus,
  type TaskType,
} from "@aetherium/types";
import type { Context } from "../context.js";
import { age, keyValues, table } from "../format/table.js";
import { UsageError } from "../parse.js";

/** `aether task ls` table. */
export function taskTable(tasks: readonly Task[], now = new Date()): string {
  return table(
    ["ID", "TYPE", "STATUS", "VM", "ATTEMPTS", "AGE", "ERROR"],
    tasks.map((t) => [
      t.id,
      t.type,
      t.status,
      t.vmId ?? "-",
      `${t.attempts}/${t.maxAttempts}`,
      age(t.createdAt, now),
      t.error ?? "",
    ]),
  );
}

function checkAll<T extends string>(values: string[], options: readonly T[], flag: string): T[] {
  for (const v of values) {
    if (!(options as readonly string[]).includes(v)) {
      throw new UsageError(`${flag} "${v}" must be one of ${options.join(", ")}`);
    }
  }
  return values as T[];
}

/** `aether task ls [--status …] [--type …] [--vm …] [--limit n]`: newest first. */
export async function taskList(
  ctx: Context,
  flags: { status?: string[]; type?: string[]; vm?: string; limit?: string },
): Promise<number> {
  const split = (v?: string[]) => (v ?? []).flatMap((s) => s.split(",")).filter(Boolean);
  const status = checkAll<TaskStatus>(split(flags.status), taskStatusSchema.options, "--status");
  const type = checkAll<TaskType>(split(flags.type), taskTypeSchema.options, "--type");
  const vmId = flags.vm ? (await ctx.sandbox(flags.vm)).id : undefined;
  const limit = flags.limit ? Number(flags.limit) : 50;
  if (!Number.isInteger(limit) || limit < 1)
    throw new UsageError("--limit must be a whole number above 0");
  const page = await ctx.client.tasks.list({
    limit,
    ...(status.length ? { status } : {}),
    ...(type.length ? { type } : {}),
    ...(vmId ? { vmId } : {}),
  });
  ctx.output(page, () => (page.items.length ? taskTable(page.items) : "no tasks"));
  return 0;
}

/** `aether task get` details. */
export function taskDetails(t: Task): string {
  return keyValues([
    ["id", t.id],
    ["type", t.type],
    ["status", t.status],
    ["vm", t.vmId],
    ["worker", t.workerId],
    ["attempts", `${t.attempts}/${t.maxAttempts}`],
    ["error", t.error],
    ["result", t.result === null || t.result === undefined ? null : JSON.stringify(t.result)],
    ["created", t.createdAt],
    ["started", t.startedAt],
    ["completed", t.completedAt],
  ]);
}

/** `aether task get <id>`. */
export async function taskGet(ctx: Context, id: string): Promise<number> {
  const task = await ctx.client.tasks.get(id);
  ctx.output({ task }, () => taskDetails(task));
  return 0;
}

/** `aether task cancel <id>`. */
export async function taskCancel(ctx: Context, id: string): Promise<number> {
  const task = await ctx.client.tasks.cancel(id);
  ctx.output({ task }, () => `task ${task.id} is ${task.status}`);
  return 0;
}
