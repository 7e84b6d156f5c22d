import { StringDecoder } from "node:string_decoder";
import {
  AetheriumError,
  createSecretRedactor,
  createStreamRedactor,
  type Logger,
  type SecretRedactor,
  type StreamRedactor,
} from "@aetherium/common";
import { JobCancelledError, JobTimeoutError } from "../queue/job-queue.js";
import {
  AGENT_USER,
  agentInvocation,
  agentKindOf,
  agentOutputParser,
  type AgentChunk,
} from "./agent-adapters.js";
import { agentSettingsOf, type PromptOutcome, type PromptService } from "./prompt-service.js";

/** What the runner asks the sandbox to run (a subset of the guest agent's exec request). */
export interface AgentProcessSpec {
  readonly command: string;
  /** With args: run directly; without: through `/bin/sh -c`. */
  readonly args?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly user: string;
  readonly stdin: string;
}

/** A started agent process. */
export interface StartedAgentProcess {
  /** SIGKILL to its process group. */
  kill(): Promise<void>;
  /** Resolves when it has exited; rejects when the sandbox's agent is lost. */
  readonly done: Promise<{ exitCode: number | null; signal?: string | null }>;
}

/** Starts processes in a sandbox; the worker implements it over the guest agent. */
export interface AgentProcessStarter {
  start(
    sandboxId: string,
    spec: AgentProcessSpec,
    handlers: { onStdout(data: Buffer): void; onStderr(data: Buffer): void },
  ): Promise<StartedAgentProcess>;
}

/** Settings of {@link runPrompt}. */
export interface PromptRunOptions {
  /** Bytes of the answer (and of stderr) a prompt's record keeps; default 1 MiB. */
  readonly outputLimitBytes?: number;
  /** How often a running prompt's answer so far is stored; default 1 s. */
  readonly progressIntervalMs?: number;
}

/** What a `prompt:execute` job returns as its task's result. */
export interface PromptRunResult {
  readonly promptId: string;
  readonly status: string;
  readonly exitCode?: number | null;
  readonly durationMs?: number | null;
}

/**
 * Runs one prompt: claims its turn (handing the job back while another prompt of the workspace
 * runs or waits ahead of it), makes sure the workspace's sandbox runs, and starts its agent as the
 * sandbox's unprivileged user in the working directory, with the prompt's env and the workspace's
 * secrets in the process environment only. The answer is parsed (stream-json agents), redacted,
 * published on the event bus piece by piece, stored bounded while it runs and when it ends, with
 * exit code and duration. Aborting `signal` (cancel, timeout, shutdown) kills the agent.
 */
export async function runPrompt(
  prompts: PromptService,
  starter: AgentProcessStarter,
  promptId: string,
  signal: AbortSignal,
  logger: Logger,
  options: PromptRunOptions = {},
): Promise<PromptRunResult> {
  const claim = await prompts.claim(promptId);
  if (!claim.run) return { promptId, status: claim.reason };
  const { prompt, workspace } = claim;
  const t0 = performance.now();
  const limit = options.outputLimitBytes ?? 1024 * 1024;
  const out = new BoundedText(limit);
  const err = new BoundedText(limit);
  // Until the secrets are known nothing is streamed, so every path below can redact.
  let redactor: SecretRedactor = createSecretRedactor([]);
  const redact = (text: string) => redactor.redact(text);
  const ended = async (
    status: PromptOutcome["status"],
    exitCode: number | null,
    error: string | null,
  ): Promise<PromptRunResult> => {
    const durationMs = Math.max(0, Math.round(performance.now() - t0));
    const done = await prompts.finish(prompt.id, {
      status,
      exitCode,
      stdout: out.text,
      stderr: err.text,
      stdoutTruncated: out.truncated,
      error: error === null ? null : redact(error),
      durationMs,
    });
    await prompts.workspacePort.markActive(workspace.id).catch(() => undefined);
    return { promptId, status: done?.status ?? status, exitCode, durationMs };
  };
  let spec: AgentProcessSpec;
  let format: "stream-json" | "text";
  try {
    const kind = agentKindOf(workspace.aiAssistant);
    if (!kind) throw new Error(`unknown agent "${workspace.aiAssistant}"`);
    const { sandboxId } = await prompts.workspacePort.ensureRunning(workspace.tenant, workspace.id);
    const secrets = await prompts.workspacePort.secretValues(workspace.tenant, workspace.id);
    redactor = createSecretRedactor(Object.values(secrets));
    const invocation = agentInvocation(kind, agentSettingsOf(workspace), {
      prompt: prompt.prompt,
      systemPrompt: prompt.systemPrompt,
    });
    format = invocation.output;
    spec = {
      command: invocation.command,
      ...(invocation.args ? { args: invocation.args } : {}),
      // The workspace's plain env, then the prompt's own; secrets last: a prompt's env cannot
      // replace a secret of the same name.
      env: { ...workspace.env, ...prompt.env, ...invocation.env, ...secrets },
      cwd: prompt.workingDirectory ?? workspace.workingDirectory,
      user: AGENT_USER,
      stdin: invocation.stdin,
    };
    signal.throwIfAborted();
    return await streamAgent(sandboxId);
  } catch (e) {
    if (signal.aborted) return ended(abortStatus(signal), null, abortReason(signal));
    logger.warn({ err: redactError(e, redact), promptId }, "prompt could not run");
    return ended("failed", null, (e as Error).message);
  }

  async function streamAgent(sandboxId: string): Promise<PromptRunResult> {
    const streams: Record<"stdout" | "stderr", StreamRedactor> = {
      stdout: createStreamRedactor(redactor),
      stderr: createStreamRedactor(redactor),
    };
    const parser = agentOutputParser(format);
    const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
    let seq = 0;
    const emit = (chunks: readonly AgentChunk[], final = false) => {
      for (const c of chunks) {
        const text = streams[c.stream].push(c.text);
        if (text !== "") send(c.stream, text);
      }
      if (final) {
        for (const s of ["stdout", "stderr"] as const) {
          const rest = streams[s].flush();
          if (rest !== "") send(s, rest);
        }
      }
    };
    const send = (stream: "stdout" | "stderr", text: string) => {
      (stream === "stdout" ? out : err).push(text);
      void prompts.publishOutput(prompt, stream, seq++, text);
    };
    let dirty = false;
    const progress = setInterval(() => {
      if (!dirty) return;
      dirty = false;
      prompts
        .recordProgress(prompt.id, {
          stdout: out.text,
          stderr: err.text,
          stdoutTruncated: out.truncated,
        })
        .catch((e: unknown) => logger.warn({ err: e, promptId }, "could not store prompt output"));
    }, options.progressIntervalMs ?? 1000);
    progress.unref();
    try {
      const proc = await starter.start(sandboxId, spec, {
        onStdout: (b) => {
          dirty = true;
          emit(parser.push(decoders.stdout.write(b)));
        },
        onStderr: (b) => {
          dirty = true;
          emit([{ stream: "stderr", text: decoders.stderr.write(b) }]);
        },
      });
      const onAbort = () => void proc.kill().catch(() => undefined);
      signal.addEventListener("abort", onAbort, { once: true });
      let result: { exitCode: number | null; signal?: string | null };
      try {
        result = await proc.done;
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
      emit([...parser.push(decoders.stdout.end()), ...parser.end()]);
      emit([{ stream: "stderr", text: decoders.stderr.end() }], true);
      if (signal.aborted)
        return await ended(abortStatus(signal), result.exitCode, abortReason(signal));
      const exitCode = result.exitCode;
      const failed = exitCode !== 0;
      const error = failed
        ? exitCode === null
          ? `the agent was killed by ${result.signal ?? "a signal"}`
          : `the agent exited with code ${exitCode}`
        : null;
      return await ended(failed ? "failed" : "completed", exitCode, error);
    } finally {
      clearInterval(progress);
    }
  }
}

/** Text kept up to `limit` UTF-8 bytes; the rest is counted as cut. */
class BoundedText {
  #parts: string[] = [];
  #bytes = 0;
  truncated = false;

  constructor(private readonly limit: number) {}

  push(text: string): void {
    if (this.truncated) return;
    const size = Buffer.byteLength(text);
    if (this.#bytes + size <= this.limit) {
      this.#parts.push(text);
      this.#bytes += size;
      return;
    }
    const room = this.limit - this.#bytes;
    // Cut on a character boundary: decoding a byte prefix drops a split last character.
    const head = Buffer.from(text)
      .subarray(0, room)
      .toString("utf8")
      .replace(/\uFFFD$/, "");
    this.#parts.push(head);
    this.#bytes += Buffer.byteLength(head);
    this.truncated = true;
  }

  get text(): string {
    return this.#parts.join("");
  }
}

function abortStatus(signal: AbortSignal): PromptOutcome["status"] {
  return signal.reason instanceof JobCancelledError ? "cancelled" : "failed";
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof JobCancelledError) return "cancelled";
  if (reason instanceof JobTimeoutError) return `stopped: ${reason.message}`;
  if (reason instanceof Error) return `stopped: ${reason.message}`;
  return "stopped";
}

function redactError(
  e: unknown,
  redact: (t: string) => string,
): { message: string; code?: string } {
  const message = redact((e as Error)?.message ?? String(e));
  return e instanceof AetheriumError ? { message, code: e.code } : { message };
}
