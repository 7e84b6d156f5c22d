import { createSecretRedactor, type EventBus } from "@aetherium/common";
import { createEvent, type DomainEvent } from "@aetherium/types";
import { installTools, ToolInstallError, type ToolInstallResult } from "@aetherium/core";
import type { AgentClient } from "../agent-client/agent-client.js";
import { agentCommandRunner } from "./sandbox-command-runner.js";

/** What {@link installSandboxTools} needs. */
export interface SandboxToolsOptions {
  readonly bus: EventBus;
  /** The sandbox's environment: its values are redacted from output, events and the error. */
  readonly env: Readonly<Record<string, string>>;
  /** How long one tool may take; the installer's default (10 minutes) when absent. */
  readonly timeoutMsPerTool?: number;
  readonly signal?: AbortSignal;
}

/**
 * Installs a new sandbox's tools through its agent, before it is `running` (so its manager's
 * running-only routes cannot be used yet), publishing each step as a `vm.tool` event. Throws an
 * error naming the failed tool with its output, redacted of the sandbox's env values.
 */
export async function installSandboxTools(
  sandboxId: string,
  client: AgentClient,
  tools: readonly string[],
  options: SandboxToolsOptions,
): Promise<ToolInstallResult[]> {
  const redactor = createSecretRedactor(Object.values(options.env));
  const runner = agentCommandRunner((_id, spec, handlers) => client.startProcess(spec, handlers));
  // Published in order, without holding up the installer: a slow bus must not slow the install.
  let published: Promise<unknown> = Promise.resolve();
  try {
    return await installTools(runner, sandboxId, tools, {
      ...(options.timeoutMsPerTool !== undefined
        ? { timeoutMsPerTool: options.timeoutMsPerTool }
        : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onStep: (step) => {
        const data = {
          vmId: sandboxId,
          ...step,
          ...(step.output !== undefined ? { output: redactor.redact(step.output) } : {}),
          ...(step.error !== undefined ? { error: redactor.redact(step.error) } : {}),
        };
        const event = createEvent("vm.tool", data) as DomainEvent;
        published = published.then(() => options.bus.publish(event)).catch(() => undefined);
      },
    });
  } catch (err) {
    if (err instanceof ToolInstallError) throw new Error(redactor.redact(err.message));
    throw err;
  } finally {
    await published;
  }
}
