import { randomUUID } from "node:crypto";
import { constants as osConstants } from "node:os";
import type { Logger } from "@aetherium/common";
import type { ExecSignal } from "@aetherium/types";
import type { ExecutionRow, Repositories } from "@aetherium/core";
import type {
  AgentExecSpec,
  AgentProcess,
  ExecOutputHandlers,
  ExecResult,
} from "../agent-client/agent-client.js";
import type { AgentConnections } from "./agent-connections.js";
import { BackgroundWrites } from "./background-writes.js";
import { OutputCapture } from "./output-capture.js";
import { OutputFlusher } from "./output-flusher.js";
import type { SandboxActivity } from "./sandbox-activity.js";
import type { SandboxRecords } from "./sandbox-records.js";

/** A command to run in a sandbox, as the `vm:execute` job carries it. */
export interface ExecRequest {
  readonly executionId?: string;
  readonly taskId?: string;
  readonly command: string;
  /** With args: run `command` directly; without: `/bin/sh -c command`. */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly user?: string;
  readonly stdin?: string;
  readonly timeoutMs?: number;
}

/** A command to stream (the exec WebSocket): an {@link ExecRequest} that may ask for a terminal. */
export interface StreamExecRequest extends Omit<ExecRequest, "stdin"> {
  /** Run in a pseudo-terminal of this size (stdout and stderr merge into stdout). */
  readonly pty?: { readonly cols: number; readonly rows: number };
  /** Keep stdin open for {@link ExecHandle.write} (default true; always with `pty`). */
  readonly openStdin?: boolean;
  /** Bytes written to stdin first. */
  readonly stdin?: Uint8Array | string;
}

/**
 * Receives a streamed command's output. A returned promise holds the agent's flow-control
 * acknowledgement until it settles, so a slow consumer slows the command instead of piling up
 * output in the worker.
 */
export type ExecStreamHandlers = ExecOutputHandlers;

/** How a streamed command ended: its recorded row and the agent's exit report. */
export interface ExecOutcome {
  readonly execution: ExecutionRow;
  readonly result: ExecResult;
}

/** A running, recorded command: feed it, signal it, or wait for its recorded end. */
export interface ExecHandle {
  /** Id of its `executions` row. */
  readonly executionId: string;
  /** Its pid inside the sandbox. */
  readonly pid: number;
  /** Writes to its standard input. */
  write(data: Uint8Array | string): Promise<void>;
  /** Closes its standard input (end of file). */
  closeStdin(): Promise<void>;
  /** Sends a signal to its process group (PTY: the foreground group). */
  signal(signal: ExecSignal): Promise<void>;
  /** Resizes its terminal (only with `pty`). */
  resize(cols: number, rows: number): Promise<void>;
  /**
   * SIGKILL. With `reason`, a command that dies of it is recorded with that reason as its
   * `error` (e.g. "closed by client") instead of "killed by SIGKILL", so a deliberate end reads
   * differently from a failure.
   */
  kill(reason?: string): Promise<void>;
  /**
   * Resolves once the command ended, every output handler ran and its row is completed; rejects
   * (after recording the error in the row) if the agent connection is lost or a handler threw.
   */
  readonly done: Promise<ExecOutcome>;
}

/** Options of {@link ExecRecorder.exec}. */
export interface RecordedExecOptions {
  signal?: AbortSignal;
  onStdout?: (b: Buffer) => void;
  onStderr?: (b: Buffer) => void;
  /**
   * Answer as soon as the agent reports the exit, with the completed record as it will be
   * stored, and complete the stored row in the background (bounded; see
   * `SandboxManagerDeps.deferredRecordLimit`). The row itself is still inserted before the
   * command starts, so a crash leaves a record; a read of the row racing the answer may see it
   * unfinished for the time of one write. Only when the command ran: a command that could not
   * start or lost its agent is recorded before the caller hears of it.
   */
  deferRecord?: boolean;
}

/** What an {@link ExecRecorder} needs. */
export interface ExecRecorderDeps {
  readonly repos: Repositories;
  readonly logger: Logger;
  readonly records: SandboxRecords;
  readonly agents: AgentConnections;
  readonly activity: SandboxActivity;
  /** Bytes of stdout and of stderr an `executions` row keeps. */
  readonly outputLimitBytes: number;
  /** How often (and after how many more bytes) a running command's output is stored. */
  readonly outputFlush: { readonly intervalMs: number; readonly maxBytes: number };
  /** Completion writes of `deferRecord` commands that may be in flight at once. */
  readonly deferredRecordLimit: number;
}

/**
 * Runs commands in a worker's sandboxes and records each in `executions`: the row is inserted
 * before the command starts, its output so far is stored while it runs (bounded), and the row is
 * completed when it ends, at once or, when asked, in the background.
 */
export class ExecRecorder {
  readonly #deferredWrites: BackgroundWrites;

  constructor(private readonly deps: ExecRecorderDeps) {
    this.#deferredWrites = new BackgroundWrites({
      limit: deps.deferredRecordLimit,
      onError: (err) =>
        deps.logger.error({ err }, "could not complete the record of a finished command"),
    });
  }

  /**
   * Runs a command to its end and records it (exit code, output prefixes with truncation flags,
   * duration). A non-zero exit is a result, not an error. Aborting `signal` kills the command
   * (it is recorded as killed).
   */
  async exec(
    sandboxId: string,
    req: ExecRequest,
    options: RecordedExecOptions = {},
  ): Promise<ExecutionRow> {
    options.signal?.throwIfAborted();
    const handle = await this.startExec(
      sandboxId,
      { ...req, openStdin: false },
      {
        ...(options.onStdout ? { onStdout: options.onStdout } : {}),
        ...(options.onStderr ? { onStderr: options.onStderr } : {}),
      },
      { deferRecord: options.deferRecord === true },
    );
    const signal = options.signal;
    const onAbort = (): void => {
      handle.kill().catch(() => {});
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return (await handle.done).execution;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Starts a command in a running sandbox of this worker and returns at once, recording it like
   * {@link exec}. Output goes to `handlers` (a returned promise is backpressure).
   */
  async startExec(
    sandboxId: string,
    req: StreamExecRequest,
    handlers: ExecStreamHandlers = {},
    options: { deferRecord?: boolean } = {},
  ): Promise<ExecHandle> {
    const { repos, records, agents, activity, logger } = this.deps;
    const row = await records.running(sandboxId);
    // The row's started_at is the database's clock at this insert; the duration is measured here
    // (monotonic), so a deferred completion can answer the same figures the row will hold.
    const t0 = performance.now();
    // A queued command names its id, which may be a row a retried job already completed: that
    // insert refuses, so it must land before the command could run twice. A command run now gets a
    // fresh id, so its row is written while the agent starts it; both finish before the caller
    // hears back, and a command whose row cannot be written is killed.
    const executionId = req.executionId ?? randomUUID();
    const inserting = repos.executions.create({
      id: executionId,
      vmId: sandboxId,
      taskId: req.taskId ?? null,
      command: req.command,
      args: req.args ?? [],
      envKeys: Object.keys(req.env ?? {}),
      cwd: req.cwd ?? null,
      user: req.user ?? null,
      pty: req.pty !== undefined,
    });
    // Settled below on every path; this only keeps an early rejection from counting as unhandled.
    inserting.catch(() => undefined);
    if (req.executionId !== undefined) await inserting;
    const out = new OutputCapture(this.deps.outputLimitBytes);
    const err = new OutputCapture(this.deps.outputLimitBytes);
    const captured = () => ({
      stdout: out.text(),
      stderr: err.text(),
      stdoutTruncated: out.truncated,
      stderrTruncated: err.truncated,
    });
    activity.touch(sandboxId);
    const spec: AgentExecSpec = {
      ...(req.args ? { command: req.command, args: [...req.args] } : { shell: req.command }),
      // The row's env applies to every command: a sandbox claimed from the warm pool was
      // booted before its owner's env was known.
      env: { ...repos.vms.openEnv(row), ...req.env },
      ...(req.cwd ? { cwd: req.cwd } : {}),
      ...(req.user ? { user: req.user } : {}),
      ...(req.stdin !== undefined ? { stdin: req.stdin } : {}),
      ...(req.timeoutMs ? { timeoutMs: req.timeoutMs } : {}),
      ...(req.pty ? { pty: { cols: req.pty.cols, rows: req.pty.rows } } : {}),
      ...(req.openStdin !== undefined || req.pty ? { openStdin: req.openStdin ?? true } : {}),
    };
    const flusher = new OutputFlusher({
      intervalMs: this.deps.outputFlush.intervalMs,
      maxBytes: this.deps.outputFlush.maxBytes,
      keptBytes: () => out.keptBytes + err.keptBytes,
      state: () => `${out.keptBytes}/${out.truncated}/${err.keptBytes}/${err.truncated}`,
      write: () => repos.executions.recordProgress(executionId, captured()),
      onError: (e) => logger.warn({ err: e, executionId }, "could not store output"),
    });
    let proc: AgentProcess;
    try {
      const client = await agents.get(sandboxId);
      proc = await client.startProcess(spec, {
        onStdout: (b) => {
          out.push(b);
          flusher.noteOutput();
          return handlers.onStdout?.(b);
        },
        onStderr: (b) => {
          err.push(b);
          flusher.noteOutput();
          return handlers.onStderr?.(b);
        },
      });
    } catch (e) {
      await flusher.stop();
      if (
        await inserting.then(
          () => true,
          () => false,
        )
      ) {
        await repos.executions.complete(executionId, {
          ...captured(),
          error: (e as Error).message,
        });
      }
      throw e;
    }
    let execution: ExecutionRow;
    try {
      execution = await inserting;
    } catch (e) {
      await proc.kill().catch(() => undefined);
      await proc.done.catch(() => undefined);
      await flusher.stop();
      throw e;
    }
    activity.begin(sandboxId);
    let killReason: string | undefined;
    const done = proc.done.then(
      async (result) => {
        activity.end(sandboxId);
        await flusher.stop();
        const outcome = {
          exitCode: result.exitCode,
          ...captured(),
          // A PTY's shell killed this way may report exit code 137 with no signal; the
          // reason still applies, since the kill was asked for.
          error: result.timedOut
            ? `timed out after ${req.timeoutMs} ms`
            : (killReason ?? (result.signal ? `killed by ${result.signal}` : null)),
        };
        if (options.deferRecord) {
          const durationMs = Math.max(0, Math.round(performance.now() - t0));
          const completedAt = new Date(execution.startedAt.getTime() + durationMs);
          const record = { ...outcome, completedAt, durationMs };
          await this.#deferredWrites.run(() => repos.executions.complete(execution.id, record));
          return { execution: { ...execution, ...record }, result };
        }
        const completed = await repos.executions.complete(execution.id, outcome);
        return { execution: completed ?? execution, result };
      },
      async (e: unknown) => {
        activity.end(sandboxId);
        await flusher.stop();
        await repos.executions.complete(execution.id, {
          ...captured(),
          error: (e as Error).message,
        });
        throw e;
      },
    );
    // A caller that never awaits `done` must not crash the process with an unhandled rejection.
    done.catch(() => {});
    return {
      executionId: execution.id,
      pid: proc.pid,
      write: (data) => proc.write(data),
      closeStdin: () => proc.closeStdin(),
      signal: (sig) => proc.signal(sig),
      resize: (cols, rows) => proc.resize(cols, rows),
      kill: (reason) => {
        killReason ??= reason;
        return proc.kill();
      },
      done,
    };
  }

  /** Resolves once every deferred completion write started so far has settled. */
  settled(): Promise<void> {
    return this.#deferredWrites.drain();
  }
}

/** The exit code a shell reports for a death by `signal` (`128 + n`), for protocols that need one. */
export function exitCodeForSignal(signal: string): number {
  const n = (osConstants.signals as Record<string, number | undefined>)[signal];
  return 128 + (n ?? 0);
}
