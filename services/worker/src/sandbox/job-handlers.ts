import type { JobHandlers } from "@aetherium/core";
import { toExecution } from "@aetherium/core";
import type { SandboxManagers } from "./sandbox-managers.js";

/**
 * The worker's handlers for sandbox jobs. Results become the task's `result`; a command's
 * non-zero exit code is part of a successful result, never a reason to retry.
 */
export function sandboxJobHandlers(managers: SandboxManagers): JobHandlers {
  return {
    "vm:create": async (ctx) => {
      const vm = await (await managers.for(ctx.payload.vmId)).create(ctx.payload.vmId, ctx.signal);
      return { vmId: vm.id, status: vm.status };
    },
    "vm:start": async (ctx) => {
      const vm = await (await managers.for(ctx.payload.vmId)).start(ctx.payload.vmId);
      return { vmId: vm.id, status: vm.status };
    },
    "vm:stop": async (ctx) => {
      const vm = await (
        await managers.for(ctx.payload.vmId)
      ).stop(ctx.payload.vmId, ctx.payload.force ?? false);
      return { vmId: vm.id, status: vm.status };
    },
    "vm:delete": async (ctx) => {
      const vm = await (await managers.for(ctx.payload.vmId)).delete(ctx.payload.vmId);
      return { vmId: ctx.payload.vmId, status: vm?.status ?? "deleted" };
    },
    "vm:execute": async (ctx) => {
      const p = ctx.payload;
      const row = await (
        await managers.for(p.vmId)
      ).exec(
        p.vmId,
        {
          executionId: p.executionId,
          taskId: ctx.id,
          command: p.command,
          ...(p.args ? { args: p.args } : {}),
          ...(p.env ? { env: p.env } : {}),
          ...(p.cwd ? { cwd: p.cwd } : {}),
          ...(p.user ? { user: p.user } : {}),
          ...(p.stdin !== undefined ? { stdin: p.stdin } : {}),
          ...(p.timeoutMs ? { timeoutMs: p.timeoutMs } : {}),
        },
        { signal: ctx.signal },
      );
      const execution = toExecution(row);
      return {
        executionId: execution.id,
        exitCode: execution.exitCode,
        durationMs: execution.durationMs,
        stdoutTruncated: execution.stdoutTruncated,
        stderrTruncated: execution.stderrTruncated,
        error: execution.error,
      };
    },
  };
}
