import {
  AetheriumError,
  NotFoundError,
  createSecretRedactor,
  type Config,
} from "@aetherium/common";
import type { ControlPlane } from "@aetherium/core";
import type { ExecutionService } from "../execution/execution-service.js";
import { waitForTask } from "../streams/wait-for-task.js";
import type {
  ActionResult,
  IntegrationAction,
  PromptSubmitter,
  StartedAction,
} from "./contract.js";

/** Integrations' settings (`integrations.*` of the config). */
export type IntegrationsConfig = Config["integrations"];

/** A usage mistake in a verified request: answered in the provider's channel, nothing started. */
export class ActionRefused extends Error {
  override readonly name = "ActionRefused";

  constructor(
    message: string,
    readonly status: 400 | 404 | 503,
  ) {
    super(message);
  }
}

/** An action under way: what to tell the provider now, and its result later. */
export interface RunningAction {
  readonly started: StartedAction;
  readonly result: Promise<ActionResult>;
}

/** What {@link ActionRunner} needs from the rest of the gateway. */
export interface ActionRunnerDeps {
  readonly runtime: Pick<ControlPlane, "repos" | "vms" | "tasks" | "bus">;
  readonly executions: ExecutionService;
  /** Where `prompt <workspace> <text>` goes: the workspaces' prompt queue. */
  readonly prompts: PromptSubmitter;
  readonly config: IntegrationsConfig;
}

/**
 * Starts what a provider asked for through the platform's own paths: a command is queued as the
 * sandbox's `vm:execute` task (as `POST /vms/{id}/execute?async=true` does), a prompt goes to the
 * {@link PromptSubmitter}. Results come back bounded to their last `resultMaxBytes` and with the
 * sandbox's environment values and the integrations' own secrets redacted.
 */
export class ActionRunner {
  readonly #deps: ActionRunnerDeps;
  readonly #stop = new AbortController();

  constructor(deps: ActionRunnerDeps) {
    this.#deps = deps;
  }

  /** Stops waiting for results (the server is closing); their deliveries stay `running`. */
  close(): void {
    this.#stop.abort();
  }

  /** Sandboxes of the tenant that are not deleted, one line each (for `ls`). */
  async list(): Promise<string> {
    const page = await this.#deps.runtime.repos.vms.list({
      tenant: this.#deps.config.tenant,
      limit: 50,
    });
    const live = page.items.filter((v) => v.status !== "deleted");
    if (live.length === 0) return "no sandboxes";
    return live.map((v) => `${v.name} (${v.id}) ${v.status} on ${v.backend}`).join("\n");
  }

  /**
   * Starts `action` (not `ls`). Throws {@link ActionRefused} for an unknown sandbox or workspace,
   * a sandbox that cannot run commands, or prompts without workspaces.
   */
  async start(action: Exclude<IntegrationAction, { kind: "ls" }>): Promise<RunningAction> {
    return action.kind === "run"
      ? this.#run(action.sandbox, action.command)
      : this.#prompt(action.workspace, action.text);
  }

  async #run(ref: string, command: string): Promise<RunningAction> {
    const vm = await this.#sandbox(ref);
    let queued: { executionId: string; taskId: string };
    try {
      queued = await this.#deps.executions.queue(vm.id, { command });
    } catch (err) {
      if (err instanceof AetheriumError && err.httpStatus < 500) {
        throw new ActionRefused(`sandbox ${vm.name} cannot run commands now: ${err.message}`, 400);
      }
      throw err;
    }
    const redactor = createSecretRedactor([...Object.values(vm.env), ...this.#secrets()]);
    const label = `\`${oneLine(command)}\` on ${vm.name}`;
    const result = (async (): Promise<ActionResult> => {
      const { runtime, config } = this.#deps;
      const task = await waitForTask({ bus: runtime.bus, tasks: runtime.tasks }, queued.taskId, {
        timeoutMs: config.commandTimeoutSec * 1000,
        signal: this.#stop.signal,
      });
      const base = { taskId: queued.taskId };
      if (task.status === "queued" || task.status === "running" || task.status === "pending") {
        return { ...base, ok: false, summary: `${label} is still running`, output: "" };
      }
      const execution = await this.#deps.executions.get(queued.executionId).catch(() => undefined);
      if (!execution || task.status !== "succeeded") {
        const why = redactor.redact(task.error ?? execution?.error ?? task.status);
        return { ...base, ok: false, summary: `${label} did not run: ${why}`, output: "" };
      }
      const output = tail(
        redactor.redact(execution.stdout + execution.stderr),
        config.resultMaxBytes,
      );
      const code = execution.exitCode;
      return {
        ...base,
        ok: code === 0,
        summary: code === null ? `${label} ended without an exit code` : `${label} exited ${code}`,
        output,
      };
    })();
    return {
      started: { taskId: queued.taskId, description: `Running ${label}` },
      result,
    };
  }

  async #prompt(workspace: string, text: string): Promise<RunningAction> {
    const prompts = this.#deps.prompts;
    let submitted: Awaited<ReturnType<PromptSubmitter["submit"]>>;
    try {
      submitted = await prompts.submit(this.#deps.config.tenant, workspace, text);
    } catch (err) {
      if (err instanceof NotFoundError) {
        throw new ActionRefused(`workspace ${workspace} does not exist`, 404);
      }
      if (err instanceof AetheriumError && err.httpStatus < 500) {
        throw new ActionRefused(err.message, 400);
      }
      throw err;
    }
    const redactor = createSecretRedactor(this.#secrets());
    const { promptId } = submitted;
    const result = submitted.done.then(
      ({ output, exitCode }): ActionResult => ({
        promptId,
        ok: exitCode === 0,
        summary: `prompt to ${workspace} finished with ${exitCode}`,
        output: tail(redactor.redact(output), this.#deps.config.resultMaxBytes),
      }),
      (err: unknown): ActionResult => ({
        promptId,
        ok: false,
        summary: `prompt to ${workspace} failed: ${redactor.redact(String((err as Error)?.message ?? err))}`,
        output: "",
      }),
    );
    return { started: { promptId, description: `Prompt sent to ${workspace}` }, result };
  }

  /**
   * The sandbox by name in the tenant, or by id; {@link ActionRefused} when there is none. Read
   * from its row: the API shape masks the env values the redactor must know.
   */
  async #sandbox(ref: string): Promise<{ id: string; name: string; env: Record<string, string> }> {
    const { runtime, config } = this.#deps;
    const row =
      (await runtime.repos.vms.getByName(ref, config.tenant)) ?? (await runtime.repos.vms.get(ref));
    if (!row || row.status === "deleted" || row.tenant !== config.tenant) {
      throw new ActionRefused(`sandbox ${ref} does not exist`, 404);
    }
    return { id: row.id, name: row.name, env: runtime.repos.vms.openEnv(row) };
  }

  #secrets(): string[] {
    const { github, slack, discord } = this.#deps.config;
    return [
      github.webhookSecret,
      github.token,
      slack.signingSecret,
      slack.botToken,
      slack.notifyWebhookUrl,
      discord.botToken,
    ].filter((s): s is string => typeof s === "string");
  }
}

/** The last `maxBytes` bytes of `text` (UTF-8), marked when cut. */
export function tail(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  // A cut inside a character leaves continuation bytes: drop them rather than show U+FFFD.
  let start = bytes.length - maxBytes;
  while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start++;
  return `[… ${start} earlier bytes not shown]\n${bytes.subarray(start).toString("utf8")}`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}
