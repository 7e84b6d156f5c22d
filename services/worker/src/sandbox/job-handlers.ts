import type { Logger } from "@aetherium/common";
import type {
  AgentProcessStarter,
  ControlPlane,
  JobHandlers,
  PromptService,
  WorkspaceSandboxHost,
} from "@aetherium/core";
import {
  deleteWorkspace,
  installTools,
  prepareWorkspace,
  runPrompt,
  ToolInstallError,
  toExecution,
  type WorkspaceToolInstaller,
} from "@aetherium/core";
import type { ExecuteBody } from "@aetherium/types";
import { agentCommandRunner } from "./sandbox-command-runner.js";
import type { SandboxManagers } from "./sandbox-managers.js";

/**
 * The worker's handlers for sandbox jobs. Results become the task's `result`; a command's
 * non-zero exit code is part of a successful result, never a reason to retry.
 */
export function sandboxJobHandlers(
  managers: SandboxManagers,
  options: {
    prompts?: PromptService;
    logger?: Logger;
    /** Workspaces' preparation and deletion run here when given (with this worker's id). */
    workspaces?: {
      readonly runtime: Pick<
        ControlPlane,
        "db" | "repos" | "bus" | "secrets" | "vms" | "workspaces"
      >;
      readonly workerId: string;
    };
  } = {},
): JobHandlers {
  const { prompts, logger, workspaces } = options;
  const workspaceDeps =
    workspaces && logger
      ? {
          db: workspaces.runtime.db.db,
          repos: workspaces.runtime.repos,
          bus: workspaces.runtime.bus,
          secrets: workspaces.runtime.secrets,
          vms: workspaces.runtime.vms,
          host: workspaceHost(managers, workspaces.workerId),
          installTool: workspaceToolInstaller(managers),
          logger,
        }
      : undefined;
  return {
    ...(workspaceDeps && workspaces
      ? {
          "workspace:create": (ctx) =>
            prepareWorkspace(workspaceDeps, ctx.payload.workspaceId, ctx.signal),
          "workspace:delete": (ctx) =>
            deleteWorkspace(workspaceDeps, workspaces.runtime.workspaces, ctx.payload),
        }
      : {}),
    ...(prompts && logger
      ? {
          "prompt:execute": (ctx) =>
            runPrompt(prompts, agentStarter(managers), ctx.payload.promptId, ctx.signal, logger),
        }
      : {}),
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
    "vm:pause": async (ctx) => {
      const vm = await (await managers.for(ctx.payload.vmId)).pause(ctx.payload.vmId);
      return { vmId: vm.id, status: vm.status };
    },
    "vm:resume": async (ctx) => {
      const vm = await (await managers.for(ctx.payload.vmId)).resume(ctx.payload.vmId);
      return { vmId: vm.id, status: vm.status };
    },
    "vm:delete": async (ctx) => {
      const vm = await (await managers.for(ctx.payload.vmId)).delete(ctx.payload.vmId);
      return { vmId: ctx.payload.vmId, status: vm?.status ?? "deleted" };
    },
    "vm:execute": async (ctx) => {
      // The payload is the execute body as the API accepted it, plus where to run and record it.
      const { vmId, executionId, taskId, ...spec } = ctx.payload;
      const command: ExecuteBody = spec;
      const manager = await managers.for(vmId);
      const row = await manager.exec(
        vmId,
        { ...command, executionId, taskId },
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

/** A workspace's sandbox on this worker: built, removed and run in through its manager. */
function workspaceHost(managers: SandboxManagers, workerId: string): WorkspaceSandboxHost {
  return {
    workerId,
    async create(sandboxId, signal) {
      await (await managers.for(sandboxId)).create(sandboxId, signal);
    },
    async delete(sandboxId) {
      await (await managers.for(sandboxId)).delete(sandboxId);
    },
    start: (sandboxId, spec, handlers) => agentStarter(managers).start(sandboxId, spec, handlers),
  };
}

/**
 * A workspace's `tool` step: one spec through the mise installer, its output streamed into the
 * step; a failure is the step's result (naming the tool), not an error of the job.
 */
function workspaceToolInstaller(managers: SandboxManagers): WorkspaceToolInstaller {
  const runner = agentCommandRunner(async (sandboxId, spec, handlers) =>
    (await managers.for(sandboxId)).startProcess(sandboxId, spec, handlers),
  );
  return async (sandboxId, spec, options) => {
    try {
      const [result] = await installTools(runner, sandboxId, [spec], {
        env: options.env,
        signal: options.signal,
        onStep: (step) => {
          if (step.phase === "output" && step.output) options.onOutput(step.output);
          if (step.phase === "succeeded" || step.phase === "skipped") {
            const what = step.phase === "skipped" ? "already installed" : "installed";
            options.onOutput(`${what}: ${spec} ${step.version ?? ""} at ${step.path ?? "?"}\n`);
          }
        },
      });
      return { status: result?.status ?? "failed", output: result?.output ?? "" };
    } catch (err) {
      if (!(err instanceof ToolInstallError)) throw err;
      return { status: "failed", output: err.output, error: `failed: ${err.reason}` };
    }
  };
}

/** Starts a prompt's agent through the guest agent of the sandbox, unrecorded (see runPrompt). */
function agentStarter(managers: SandboxManagers): AgentProcessStarter {
  return {
    async start(sandboxId, spec, handlers) {
      const manager = await managers.for(sandboxId);
      const proc = await manager.startProcess(
        sandboxId,
        {
          ...(spec.args
            ? { command: spec.command, args: [...spec.args] }
            : { shell: spec.command }),
          env: { ...spec.env },
          cwd: spec.cwd,
          user: spec.user,
          stdin: spec.stdin,
          openStdin: false,
        },
        handlers,
      );
      return {
        kill: () => proc.kill(),
        done: proc.done.then((r) => ({ exitCode: r.exitCode, signal: r.signal })),
      };
    },
  };
}
