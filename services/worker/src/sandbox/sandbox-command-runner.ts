import { StringDecoder } from "node:string_decoder";
import type { SandboxCommandRunner } from "@aetherium/core";
import type {
  AgentExecSpec,
  AgentProcess,
  ExecOutputHandlers,
} from "../agent-client/agent-client.js";
import type { SandboxManagers } from "./sandbox-managers.js";

/** Starts a process in a sandbox: a running sandbox's manager, or a sandbox's agent directly. */
export type ProcessStarter = (
  sandboxId: string,
  spec: AgentExecSpec,
  handlers: ExecOutputHandlers,
) => Promise<AgentProcess>;

/**
 * A {@link SandboxCommandRunner} over processes the guest agent starts: the command runs as
 * `/bin/sh -c`, the agent enforces its timeout (SIGTERM then SIGKILL to the process group),
 * aborting kills it, and output is decoded per stream so a character split across chunks stays
 * whole.
 */
export function agentCommandRunner(start: ProcessStarter): SandboxCommandRunner {
  return {
    async run(sandboxId, command) {
      command.signal?.throwIfAborted();
      const out = new StringDecoder("utf8");
      const err = new StringDecoder("utf8");
      const proc = await start(
        sandboxId,
        {
          shell: command.shell,
          ...(command.user !== undefined ? { user: command.user } : {}),
          ...(command.env !== undefined ? { env: { ...command.env } } : {}),
          ...(command.cwd !== undefined ? { cwd: command.cwd } : {}),
          ...(command.timeoutMs !== undefined
            ? { timeoutMs: command.timeoutMs, killGraceMs: 1000 }
            : {}),
        },
        {
          onStdout: (data) => {
            const text = out.write(data);
            if (text) command.onStdout?.(text);
          },
          onStderr: (data) => {
            const text = err.write(data);
            if (text) command.onStderr?.(text);
          },
        },
      );
      const onAbort = () => {
        proc.kill().catch(() => undefined);
      };
      command.signal?.addEventListener("abort", onAbort, { once: true });
      try {
        const done = await proc.done;
        const restOut = out.end();
        if (restOut) command.onStdout?.(restOut);
        const restErr = err.end();
        if (restErr) command.onStderr?.(restErr);
        return {
          exitCode: done.exitCode,
          signal: done.signal,
          timedOut: done.timedOut,
          durationMs: done.durationMs,
        };
      } finally {
        command.signal?.removeEventListener("abort", onAbort);
      }
    },
  };
}

/**
 * Runs commands in the running sandboxes of this worker, whatever their backend, through their
 * managers: unrecorded (no `executions` row), counted as activity so idle stop leaves them alone.
 */
export function sandboxCommandRunner(managers: SandboxManagers): SandboxCommandRunner {
  return agentCommandRunner(async (sandboxId, spec, handlers) =>
    (await managers.for(sandboxId)).startProcess(sandboxId, spec, handlers),
  );
}
