import { setTimeout as sleep } from "node:timers/promises";
import { claimForCreate } from "@aetherium/worker";
import { type JobHandlers, type Repositories } from "@aetherium/core";
import type { Redis } from "ioredis";

/**
 * Job handlers for exercising the state and queue layers without a sandbox backend: they move
 * `vms` rows through their statuses the way a backend would, and count every run in Redis so a
 * test can prove a job ran exactly as often as it should, across processes.
 *
 * Behaviour is steered by the sandbox's labels: `test-sleep-ms` (how long create takes), and by
 * the command of an exec (`sleep N`, `exit N`, `print-then-sleep N`).
 */
export function testHandlers(deps: {
  readonly repos: Repositories;
  readonly workerId: string;
  readonly redis: Redis;
  readonly runsKey: (taskId: string) => string;
}): JobHandlers {
  const { repos, workerId, redis } = deps;
  const countRun = (taskId: string) => redis.rpush(deps.runsKey(taskId), workerId);
  return {
    "vm:create": async (ctx) => {
      const row = await repos.vms.get(ctx.payload.vmId);
      if (!row) throw new Error(`sandbox ${ctx.payload.vmId} not found`);
      // Admission as the real sandbox manager does it: a reservation within this worker's
      // capacity, or the job goes back to the queue. Only claimed creates count as runs.
      const vm = await claimForCreate(repos, row, workerId);
      if (!vm) throw new Error(`sandbox ${row.id} is ${row.status}; not creating it`);
      await countRun(ctx.id);
      await sleep(Number(vm.labels["test-sleep-ms"] ?? 0), undefined, { signal: ctx.signal });
      await repos.vms.updateStatus(vm.id, ["creating"], "running");
      return { vmId: vm.id, workerId };
    },
    "vm:execute": async (ctx) => {
      await countRun(ctx.id);
      // `print-then-sleep N`: records its execution with some output stored, like a real
      // command whose first lines were flushed, then runs for N seconds.
      const printMatch = /^print-then-sleep (\d+)$/.exec(ctx.payload.command);
      if (printMatch) {
        const p = ctx.payload;
        await repos.executions.create({
          id: p.executionId,
          vmId: p.vmId,
          taskId: ctx.id,
          command: p.command,
        });
        await repos.executions.recordProgress(p.executionId, { stdout: `line 1 on ${workerId}\n` });
        await sleep(Number(printMatch[1]) * 1000, undefined, { signal: ctx.signal });
      }
      const sleepMatch = /^sleep (\d+)$/.exec(ctx.payload.command);
      if (sleepMatch) await sleep(Number(sleepMatch[1]) * 1000, undefined, { signal: ctx.signal });
      const exitMatch = /^exit (\d+)$/.exec(ctx.payload.command);
      return { exitCode: exitMatch ? Number(exitMatch[1]) : 0, workerId };
    },
    "vm:delete": async (ctx) => {
      await countRun(ctx.id);
      await repos.vms.updateStatus(
        ctx.payload.vmId,
        ["running", "stopped", "failed", "lost", "creating"],
        "deleting",
      );
      await repos.vms.updateStatus(ctx.payload.vmId, ["deleting"], "deleted");
      return { vmId: ctx.payload.vmId };
    },
  };
}
