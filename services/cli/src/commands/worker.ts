/**
 * `aether worker ls|get|drain|activate`.
 * @module
 */
import type { Worker } from "@aetherium/types";
import type { Context } from "../context.js";
import { age, keyValues, mib, pairs, table } from "../format/table.js";

/** `aether worker ls` table. */
export function workerTable(workers: readonly Worker[], now = new Date()): string {
  return table(
    ["ID", "HOSTNAME", "STATUS", "HEALTHY", "BACKENDS", "VMS", "CPUS", "MEMORY", "ZONE", "SEEN"],
    workers.map((w) => [
      w.id,
      w.hostname,
      w.status,
      w.healthy ? "yes" : "no",
      w.backends.join(",") || "-",
      `${w.used.vms}/${w.capacity.maxVms}`,
      `${w.used.vcpus}/${w.capacity.vcpus}`,
      `${mib(w.used.memoryMb)}/${mib(w.capacity.memoryMb)}`,
      w.zone || "-",
      `${age(w.lastSeenAt, now)} ago`,
    ]),
  );
}

function workerDetails(w: Worker): string {
  return keyValues([
    ["id", w.id],
    ["hostname", w.hostname],
    ["address", w.address],
    ["status", w.status],
    ["healthy", w.healthy ? "yes" : "no"],
    ["backends", w.backends.join(",")],
    ["sandboxes", `${w.used.vms} of ${w.capacity.maxVms}`],
    ["cpus", `${w.used.vcpus} of ${w.capacity.vcpus}`],
    ["memory", `${mib(w.used.memoryMb)} of ${mib(w.capacity.memoryMb)}`],
    ["zone", w.zone],
    ["labels", pairs(w.labels)],
    ["last seen", w.lastSeenAt],
  ]);
}

/** `aether worker ls`. */
export async function workerList(ctx: Context): Promise<number> {
  const items: Worker[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.client.workers.list({ limit: 500, ...(cursor ? { cursor } : {}) });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  ctx.output({ items }, () => (items.length ? workerTable(items) : "no workers registered"));
  return 0;
}

/** `aether worker get <id>`. */
export async function workerGet(ctx: Context, id: string): Promise<number> {
  const worker = await ctx.client.workers.get(id);
  ctx.output({ worker }, () => workerDetails(worker));
  return 0;
}

/** `aether worker drain|activate <id>`. */
export async function workerSetStatus(
  ctx: Context,
  action: "drain" | "activate",
  id: string,
): Promise<number> {
  const worker =
    action === "drain" ? await ctx.client.workers.drain(id) : await ctx.client.workers.activate(id);
  ctx.output({ worker }, () =>
    action === "drain"
      ? `worker ${worker.id} is ${worker.status}: it keeps its sandboxes and takes no new ones`
      : `worker ${worker.id} is ${worker.status}`,
  );
  return 0;
}
