/**
 * `aether health`.
 * @module
 */
import type { Context } from "../context.js";
import { table } from "../format/table.js";

/** `aether health`: the platform's components; exit 1 when degraded, so scripts can gate on it. */
export async function healthCommand(ctx: Context): Promise<number> {
  const health = await ctx.client.health();
  ctx.output(health, () => {
    const rows = Object.entries(health.components).map(([name, c]) => [
      name,
      c.status,
      c.detail ?? c.message ?? "",
    ]);
    return `${ctx.url}: ${health.status}${health.version ? ` (version ${health.version})` : ""}\n${table(["COMPONENT", "STATUS", "DETAIL"], rows)}`;
  });
  return health.status === "ok" ? 0 : 1;
}
