import { randomBytes } from "node:crypto";
import { constants as osConstants } from "node:os";
import { ConflictError, NotFoundError, type EventBus, type Logger } from "@aetherium/common";
import {
  createEvent,
  isServableBy,
  vmEventTypeForStatus,
  type DomainEvent,
  type EgressPolicy,
  type ExecSignal,
  type NetworkPolicy,
  type VmBackend,
  type VmStatus,
} from "@aetherium/types";
import {
  AgentAuthError,
  AgentConnectionError,
  AgentSocketRefusedError,
} from "../agent-client/agent-errors.js";
import {
  waitForAgent,
  type AgentClient,
  type AgentExecSpec,
  type AgentProcess,
  type ExecOutputHandlers,
  type ExecResult,
} from "../agent-client/agent-client.js";
import {
  isRetryableDockerError,
  SandboxConflictError,
  SandboxNotFoundError,
} from "../docker/docker-errors.js";
import type { SandboxBackend, SandboxEvent } from "../backends/sandbox-backend.js";
import { toVm, RetryableError } from "@aetherium/core";
import type { Repositories, ExecutionRow, VmRow } from "@aetherium/core";
import { claimForCreate } from "./admission.js";
import { BackgroundWrites } from "./background-writes.js";
import { OutputCapture } from "./output-capture.js";
import { OutputFlusher } from "./output-flusher.js";

/** What the manager needs; one per worker and backend. */
export interface SandboxManagerDeps {
  readonly backend: SandboxBackend;
  readonly repos: Repositories;
  readonly bus: EventBus;
  readonly workerId: string;
  readonly logger: Logger;
  /** How long a new sandbox's agent may take to answer `agent.health`. */
  readonly agentReadyTimeoutMs?: number;
  /** Bytes of stdout and of stderr an `executions` row keeps (the rest is counted, not stored). */
  readonly outputLimitBytes?: number;
  /**
   * A running command's output so far is written to its row this often (default 1 s) or once
   * this many more bytes arrived (default 64 KiB): what a crash of this worker can lose.
   */
  readonly outputFlush?: { readonly intervalMs?: number; readonly maxBytes?: number };
  /**
   * Completion writes of `deferRecord` commands that may be in flight at once (default 256); past
   * it a caller waits for its own record again.
   */
  readonly deferredRecordLimit?: number;
}

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

/** What reconcile found and did. */
export interface ReconcileResult {
  /** Containers of ours whose sandbox is deleted, failed, waiting to be placed or on another worker. */
  readonly orphansRemoved: string[];
  /** Sandboxes whose container is gone. */
  readonly markedLost: string[];
  /** Sandboxes whose container had stopped while their record said running. */
  readonly markedStopped: string[];
  /** `lost` sandboxes found alive (running again) or stopped (stopped again). */
  readonly recovered: string[];
  /**
   * Containers with this worker's label that no record of this install names: another install
   * (same worker id, other database) may own them, so they are left alone.
   */
  readonly foreign: string[];
}

/** Options of {@link SandboxManager.reconcile}. */
export interface ReconcileOptions {
  /**
   * True at start-up (the default), when nothing runs yet: sandboxes caught mid-create, -stop or
   * -delete by a crash are settled too. A periodic pass leaves those to the operation in flight.
   */
  readonly atStartup?: boolean;
}

// Statuses whose record says the sandbox's container exists on its worker.
const HOSTED: readonly VmStatus[] = ["creating", "running", "stopping", "stopped", "lost"];
// A container of these is unwanted: nothing will run in it again.
const UNWANTED: readonly VmStatus[] = ["pending", "deleting", "deleted", "failed"];
// How long a `lost` sandbox's agent gets to answer before reconcile leaves it lost.
const REVIVE_AGENT_TIMEOUT_MS = 5000;

/**
 * A worker's sandboxes, kept honest: a row turns `running` only once the guest agent answers,
 * every transition is a guarded update (the status it expects, or nothing), failures record why,
 * and `reconcile` makes the rows and the backend agree after a restart.
 */
export class SandboxManager {
  readonly #clients = new Map<string, Promise<AgentClient>>();
  /** When each sandbox last ran a command here; idle auto-stop reads it. */
  readonly #lastActive = new Map<string, number>();
  /** Commands running now per sandbox: a sandbox running one is never idle (a terminal). */
  readonly #busy = new Map<string, number>();
  readonly #readyTimeoutMs: number;
  readonly #outputLimit: number;
  readonly #deferredWrites: BackgroundWrites;
  /** Sandboxes the OOM killer hit, until their `die` event is handled. */
  readonly #oomKilled = new Set<string>();
  /** Event handling and reconcile passes, one after another. */
  #queue: Promise<void> = Promise.resolve();
  /** Stops of the watches {@link SandboxManager.watch} started. */
  readonly #watches = new Set<() => void>();

  constructor(private readonly deps: SandboxManagerDeps) {
    this.#readyTimeoutMs = deps.agentReadyTimeoutMs ?? 30_000;
    this.#outputLimit = deps.outputLimitBytes ?? 1024 * 1024;
    this.#deferredWrites = new BackgroundWrites({
      limit: deps.deferredRecordLimit ?? 256,
      onError: (err) =>
        deps.logger.error({ err }, "could not complete the record of a finished command"),
    });
  }

  /** The backend this manager drives; it answers only for sandboxes recorded on it. */
  get kind(): VmBackend {
    return this.deps.backend.kind;
  }

  /**
   * Builds and boots the sandbox recorded as `vmId` (status pending), claiming it for this worker.
   * A half-made sandbox from an earlier attempt is removed first, so the job may be retried.
   */
  async create(vmId: string, signal?: AbortSignal): Promise<VmRow> {
    const { backend, repos, workerId } = this.deps;
    const row = await repos.vms.get(vmId);
    if (!row) throw new Error(`sandbox ${vmId} has no record`);
    this.#sameBackend(row);
    if (isServableBy(row, workerId)) return row;
    const claimed = await this.#claim(row);
    if (!claimed) throw new Error(`sandbox ${vmId} is ${row.status}; not creating it`);
    try {
      const spec = {
        sandboxId: vmId,
        workerId,
        ...(claimed.image ? { image: claimed.image } : {}),
        vcpus: claimed.vcpus,
        memoryMb: claimed.memoryMb,
        ...(claimed.diskMb ? { diskMb: claimed.diskMb } : {}),
        egress: egressOf(claimed.network),
        env: claimed.env,
        labels: { "aetherium.vm-name": claimed.name },
      };
      try {
        await backend.create(spec);
      } catch (err) {
        // A leftover of an interrupted attempt holds the name: clear it and build afresh. Only
        // on this path, so a first attempt pays no extra engine call.
        if (!(err instanceof SandboxConflictError)) throw err;
        await backend.remove(vmId);
        await backend.create(spec);
      }
      await backend.start(vmId);
      signal?.throwIfAborted();
      const client = await this.#dial(vmId, this.#readyTimeoutMs);
      void this.#cache(vmId, Promise.resolve(client));
      const running = await this.#move(claimed, ["creating"], "running");
      if (!running) throw new Error(`sandbox ${vmId} changed state while it was created`);
      return running;
    } catch (err) {
      const message = (err as Error).message;
      const current = await repos.vms.get(vmId);
      if (current && isServableBy(current, workerId)) {
        // The sandbox is up and recorded so; only what came after (announcing it) failed.
        // Removing its container now would leave a running record with nothing behind it.
        this.deps.logger.warn({ err, vmId }, "sandbox is running, but announcing it failed");
        return current;
      }
      await this.#dropClient(vmId);
      await backend.remove(vmId).catch(() => undefined);
      if (current) await this.#move(current, ["creating"], "failed", { error: message });
      // The engine being briefly unreachable is worth another attempt; a bad image is not.
      throw isRetryableDockerError(err) ? new RetryableError(message, { cause: err }) : err;
    }
  }

  /**
   * Reserves this worker's capacity for the sandbox and claims it, atomically: concurrent creates
   * never overshoot however late the heartbeats are. With no room here the job goes back to its
   * queue (for this or another worker) and the sandbox says why it waits.
   */
  async #claim(row: VmRow): Promise<VmRow | undefined> {
    const claimed = await claimForCreate(this.deps.repos, row, this.deps.workerId);
    if (claimed) {
      await this.deps.bus.publish(
        createEvent(vmEventTypeForStatus("creating"), {
          vm: toVm(claimed),
          previousStatus: row.status,
        }) as DomainEvent,
      );
    }
    return claimed;
  }

  /** Stops a running sandbox; its files stay until it is deleted. */
  async stop(vmId: string, force = false): Promise<VmRow> {
    const row = await this.#own(vmId);
    if (row.status === "stopped") return row;
    const stopping = await this.#move(row, ["running", "creating", "stopping"], "stopping");
    if (!stopping) throw new Error(`sandbox ${vmId} is ${row.status}; cannot stop it`);
    await this.#dropClient(vmId);
    await this.deps.backend.stop(vmId, { timeoutSec: force ? 0 : 10 });
    return (await this.#move(stopping, ["stopping"], "stopped"))!;
  }

  /** Starts a stopped sandbox again; running once its agent answers. */
  async start(vmId: string): Promise<VmRow> {
    const row = await this.#own(vmId);
    if (row.status === "running") return row;
    // A start clears why it stopped (a crash, an OOM kill): that is history once it runs again.
    const starting = await this.#move(row, ["stopped"], "creating", { error: null });
    if (!starting) throw new Error(`sandbox ${vmId} is ${row.status}; cannot start it`);
    try {
      await this.deps.backend.start(vmId);
      const client = await this.#dial(vmId, this.#readyTimeoutMs);
      void this.#cache(vmId, Promise.resolve(client));
      return (await this.#move(starting, ["creating"], "running"))!;
    } catch (err) {
      await this.#move(starting, ["creating"], "failed", { error: (err as Error).message });
      throw err;
    }
  }

  /** Removes the sandbox and everything it held; deleting a deleted one is a no-op. */
  async delete(vmId: string): Promise<VmRow | undefined> {
    const row = await this.deps.repos.vms.get(vmId);
    if (!row || row.status === "deleted") return row;
    const deleting =
      row.status === "deleting" ? row : await this.#move(row, [row.status], "deleting");
    await this.#dropClient(vmId);
    await this.deps.backend.remove(vmId);
    return this.#move(deleting ?? row, ["deleting"], "deleted");
  }

  /**
   * Runs a command to its end and records it in `executions` (exit code, output prefixes with
   * truncation flags, duration). A non-zero exit is a result, not an error. Aborting `signal`
   * kills the command (it is recorded as killed).
   */
  async exec(
    vmId: string,
    req: ExecRequest,
    options: {
      signal?: AbortSignal;
      onStdout?: (b: Buffer) => void;
      onStderr?: (b: Buffer) => void;
      /**
       * Answer as soon as the agent reports the exit, with the completed record as it will be
       * stored, and complete the stored row in the background (bounded; see
       * {@link SandboxManagerDeps.deferredRecordLimit}). The row itself is still inserted before
       * the command starts, so a crash leaves a record; a read of the row racing the answer may
       * see it unfinished for the time of one write. Only when the command ran: a command that
       * could not start or lost its agent is recorded before the caller hears of it.
       */
      deferRecord?: boolean;
    } = {},
  ): Promise<ExecutionRow> {
    options.signal?.throwIfAborted();
    const handle = await this.startExec(
      vmId,
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
   * Starts a command in a running sandbox of this worker and returns at once, recording it in
   * `executions` like {@link exec}: the row is created before the command starts and completed
   * when it ends. Output goes to `handlers` (a returned promise is backpressure). Throws
   * NotFoundError / ConflictError when the sandbox is unknown, elsewhere or not running, and the
   * agent's errors (spawnFailed…, unavailable) when the command cannot start.
   */
  async startExec(
    vmId: string,
    req: StreamExecRequest,
    handlers: ExecStreamHandlers = {},
    options: { deferRecord?: boolean } = {},
  ): Promise<ExecHandle> {
    const row = await this.#running(vmId);
    const { repos } = this.deps;
    // The row's started_at is the database's clock at this insert; the duration is measured here
    // (monotonic), so a deferred completion can answer the same figures the row will hold.
    const t0 = performance.now();
    const execution = await repos.executions.create({
      ...(req.executionId ? { id: req.executionId } : {}),
      vmId,
      taskId: req.taskId ?? null,
      command: req.command,
      args: req.args ?? [],
      envKeys: Object.keys(req.env ?? {}),
      cwd: req.cwd ?? null,
      user: req.user ?? null,
      pty: req.pty !== undefined,
    });
    const out = new OutputCapture(this.#outputLimit);
    const err = new OutputCapture(this.#outputLimit);
    const captured = () => ({
      stdout: out.text(),
      stderr: err.text(),
      stdoutTruncated: out.truncated,
      stderrTruncated: err.truncated,
    });
    this.#lastActive.set(vmId, Date.now());
    const spec: AgentExecSpec = {
      ...(req.args ? { command: req.command, args: [...req.args] } : { shell: req.command }),
      // The row's env applies to every command: a sandbox claimed from the warm pool was
      // booted before its owner's env was known.
      env: { ...row.env, ...req.env },
      ...(req.cwd ? { cwd: req.cwd } : {}),
      ...(req.user ? { user: req.user } : {}),
      ...(req.stdin !== undefined ? { stdin: req.stdin } : {}),
      ...(req.timeoutMs ? { timeoutMs: req.timeoutMs } : {}),
      ...(req.pty ? { pty: { cols: req.pty.cols, rows: req.pty.rows } } : {}),
      ...(req.openStdin !== undefined || req.pty ? { openStdin: req.openStdin ?? true } : {}),
    };
    const flusher = new OutputFlusher({
      intervalMs: this.deps.outputFlush?.intervalMs ?? 1000,
      maxBytes: this.deps.outputFlush?.maxBytes ?? 64 * 1024,
      keptBytes: () => out.keptBytes + err.keptBytes,
      state: () => `${out.keptBytes}/${out.truncated}/${err.keptBytes}/${err.truncated}`,
      write: () => repos.executions.recordProgress(execution.id, captured()),
      onError: (e) =>
        this.deps.logger.warn({ err: e, executionId: execution.id }, "could not store output"),
    });
    let proc: AgentProcess;
    try {
      const client = await this.client(vmId);
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
      await repos.executions.complete(execution.id, {
        ...captured(),
        error: (e as Error).message,
      });
      throw e;
    }
    this.#busy.set(vmId, (this.#busy.get(vmId) ?? 0) + 1);
    const idle = (): void => {
      const n = (this.#busy.get(vmId) ?? 1) - 1;
      if (n > 0) this.#busy.set(vmId, n);
      else this.#busy.delete(vmId);
      this.#lastActive.set(vmId, Date.now());
    };
    let killReason: string | undefined;
    const done = proc.done.then(
      async (result) => {
        idle();
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
        idle();
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

  /**
   * The agent client of a running sandbox of this worker, for file operations: NotFoundError
   * when the sandbox is unknown or deleted, ConflictError when it runs elsewhere or is not
   * running, unavailable when its agent does not answer. Counts as activity for idle stop.
   */
  async runningClient(vmId: string): Promise<AgentClient> {
    await this.#running(vmId);
    this.#lastActive.set(vmId, Date.now());
    return this.client(vmId);
  }

  /**
   * Tops the warm pool up to `size` ready sandboxes of `shape`, one at a time (a boot is heavy;
   * the pool fills in the background while claims drain it). Returns how many it started.
   */
  async refillPool(
    size: number,
    shape: { image: string; vcpus: number; memoryMb: number; diskMb?: number },
  ): Promise<number> {
    const { repos, workerId } = this.deps;
    let started = 0;
    while ((await repos.vms.countWarm(workerId, shape.image, this.kind)) < size) {
      const row = await repos.vms.create({
        name: `warm-${randomBytes(6).toString("hex")}`,
        backend: this.deps.backend.kind,
        image: shape.image,
        vcpus: shape.vcpus,
        memoryMb: shape.memoryMb,
        ...(shape.diskMb ? { diskMb: shape.diskMb } : {}),
        workerId,
        metadata: { pool: "warm" },
      });
      try {
        await this.create(row.id);
      } catch (err) {
        this.deps.logger.warn({ err, vmId: row.id }, "warm-pool sandbox failed to boot");
        await this.delete(row.id).catch(() => undefined);
        break;
      }
      started++;
    }
    return started;
  }

  /** A connected agent client for a running sandbox of this worker (cached). */
  client(vmId: string): Promise<AgentClient> {
    return this.#clients.get(vmId) ?? this.#cache(vmId, this.#dial(vmId, 5000));
  }

  /**
   * Connects to a sandbox's agent, which must prove it holds the sandbox's token: the socket
   * sits in a directory the sandbox writes to, and what answers there is only trusted once it
   * has. A refused socket or agent is logged loudly, since it means the sandbox tampered with it.
   */
  async #dial(vmId: string, timeoutMs: number): Promise<AgentClient> {
    const { backend, logger } = this.deps;
    // The engine knows the token; a sandbox it cannot describe has no agent to reach either.
    const token = await backend.agentToken?.(vmId).catch((err: unknown) => {
      throw new AgentConnectionError(
        `cannot reach the agent of sandbox ${vmId}: ${(err as Error).message}`,
        { cause: err },
      );
    });
    try {
      return await waitForAgent(
        backend.agentSocketPath(vmId),
        timeoutMs,
        token === undefined ? {} : { token },
      );
    } catch (err) {
      if (err instanceof AgentAuthError || err instanceof AgentSocketRefusedError) {
        logger.error(
          { vmId, err: err.message },
          "refused to talk to the sandbox's agent socket: it is not that sandbox's agent",
        );
      }
      throw err;
    }
  }

  /** Caches a connection; one that fails or closes later is forgotten, so the next call redials. */
  #cache(vmId: string, client: Promise<AgentClient>): Promise<AgentClient> {
    this.#clients.set(vmId, client);
    const forget = (): void => {
      if (this.#clients.get(vmId) === client) this.#clients.delete(vmId);
    };
    client.then((c) => c.onClose(forget), forget);
    return client;
  }

  /**
   * Makes rows and backend agree, at start-up and periodically. Only containers this install
   * can prove are its own (a record of ours names them) and unwanted (deleted, failed, waiting to
   * be placed, or placed on another worker) are removed; a container no record names is left
   * alone. A `lost` sandbox whose container runs and whose agent answers is `running` again, one
   * whose container stopped is `stopped`; a record whose container is gone becomes `lost`, and a
   * running one whose container exited becomes `stopped` with the reason.
   */
  async reconcile(options: ReconcileOptions = {}): Promise<ReconcileResult> {
    const { backend, repos, workerId } = this.deps;
    const atStartup = options.atStartup ?? true;
    // Records first: a sandbox a create makes meanwhile then shows up as a container whose
    // record is read afresh below, never as a record whose container seems missing.
    const rows = await repos.vms.listByWorker(workerId, this.kind);
    const actual = await backend.list({ workerId });
    const result = {
      orphansRemoved: [] as string[],
      markedLost: [] as string[],
      markedStopped: [] as string[],
      recovered: [] as string[],
      foreign: [] as string[],
    };
    const present = new Map(actual.map((s) => [s.sandboxId, s]));
    for (const s of actual) {
      const row = await repos.vms.get(s.sandboxId);
      if (!row) {
        result.foreign.push(s.sandboxId);
        continue;
      }
      if (row.workerId !== workerId || UNWANTED.includes(row.status)) {
        // While the worker runs, a delete in flight removes its own container, and a create
        // placed here again builds over the leftover; at start-up nothing is in flight.
        const inFlight =
          (row.status === "deleting" || row.status === "pending") && row.workerId === workerId;
        if (inFlight && !atStartup) continue;
        await backend.remove(s.sandboxId);
        result.orphansRemoved.push(s.sandboxId);
        continue;
      }
      if (row.status === "lost") {
        if (await this.#revive(row, s)) result.recovered.push(row.id);
      } else if (row.status === "running" && !isUp(s)) {
        // The list does not say whether the OOM killer did it; inspect does.
        const info = await backend.inspect(row.id).catch(() => s);
        if (await this.#markExited(row, info)) result.markedStopped.push(row.id);
      } else if (row.status === "stopping" && atStartup && !isUp(s)) {
        // A stop the crash interrupted after the container halted.
        if (await this.#move(row, ["stopping"], "stopped")) result.markedStopped.push(row.id);
      }
    }
    for (const row of rows) {
      if (present.has(row.id) || !HOSTED.includes(row.status) || row.status === "lost") continue;
      // In flight now: the create, stop or delete under way settles it.
      if (!atStartup && row.status !== "running" && row.status !== "stopped") continue;
      if (!atStartup && (await this.#exists(row.id))) continue;
      const lost = await this.#move(row, [row.status], "lost", {
        error: atStartup
          ? "its container vanished while the worker was away"
          : "its container was removed outside the platform",
      });
      if (lost) {
        result.markedLost.push(row.id);
        await this.#releaseHost(row.id);
      }
    }
    if (
      result.orphansRemoved.length ||
      result.markedLost.length ||
      result.markedStopped.length ||
      result.recovered.length
    ) {
      this.deps.logger.warn({ ...result, workerId }, "reconciled sandboxes with the backend");
    }
    if (result.foreign.length && atStartup) {
      this.deps.logger.warn(
        { foreign: result.foreign, workerId },
        "containers labelled with this worker id that no record of this install names: left alone",
      );
    }
    return result;
  }

  /**
   * Follows the backend's events so a container killed, OOM-killed or removed behind the
   * platform's back moves its sandbox to a true state at once, and reconciles every
   * `intervalMs` (and after each reconnection of the event stream) in case events were missed.
   * Returns a function that stops both.
   */
  watch(intervalMs = 15_000): () => void {
    const { backend, workerId, logger } = this.deps;
    const resync = (): void => {
      this.#serial(() => this.reconcile({ atStartup: false })).catch((err: unknown) =>
        logger.warn({ err, workerId }, "periodic reconcile failed"),
      );
    };
    const events = backend.watch?.(
      { workerId },
      (event) => {
        this.#serial(() => this.#onEvent(event)).catch((err: unknown) =>
          logger.warn({ err, workerId, event }, "handling a sandbox event failed"),
        );
      },
      // The first connection also lands here; a pass then is cheap and catches start-up races.
      resync,
    );
    const timer = setInterval(resync, intervalMs);
    timer.unref();
    const stop = (): void => {
      clearInterval(timer);
      events?.close();
      this.#watches.delete(stop);
    };
    this.#watches.add(stop);
    return stop;
  }

  /** Runs `fn` after every earlier event and reconcile pass, so they never interleave. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  async #onEvent(event: SandboxEvent): Promise<void> {
    const row = await this.deps.repos.vms.get(event.sandboxId);
    // Only what nobody on the platform asked for: a stop or delete moves the record first
    // (`stopping`, `deleting`), and a create that fails settles its own record.
    if (!row || row.workerId !== this.deps.workerId) return;
    if (event.action === "oom") {
      this.#oomKilled.add(row.id);
      return;
    }
    if (event.action === "die" && row.status === "running") {
      const info = await this.deps.backend.inspect(row.id).catch(() => undefined);
      // A stale event: it was started again since.
      if (info && isUp(info)) return;
      const oom = this.#oomKilled.delete(row.id) || info?.oomKilled === true;
      const code = info?.exitCode ?? event.exitCode;
      await this.#markExited(row, { exitCode: code, oomKilled: oom });
    } else if (
      event.action === "destroy" &&
      (row.status === "running" || row.status === "stopped")
    ) {
      this.#oomKilled.delete(row.id);
      await this.#dropClient(row.id);
      await this.#move(row, [row.status], "lost", {
        error: "its container was removed outside the platform",
      });
      await this.#releaseHost(row.id);
    }
  }

  /**
   * What the host still holds for a sandbox whose container is gone (its run directory, a
   * tmpfs mount) serves nothing any more: no container can come back to it. The record stays.
   */
  async #releaseHost(sandboxId: string): Promise<void> {
    await this.deps.backend.remove(sandboxId).catch((err: unknown) => {
      this.deps.logger.warn(
        { err, vmId: sandboxId },
        "could not release a lost sandbox's host state",
      );
    });
  }

  /** running → stopping → stopped with why its container ended; the files stay for a start. */
  async #markExited(
    row: VmRow,
    info: { readonly exitCode: number | undefined; readonly oomKilled: boolean },
  ): Promise<VmRow | undefined> {
    const why = info.oomKilled
      ? `its container ran out of memory and was killed (exit code ${info.exitCode ?? 137})`
      : info.exitCode === undefined
        ? "its container stopped outside the platform"
        : `its container exited outside the platform with code ${info.exitCode}${
            info.exitCode > 128 ? ` (${signalName(info.exitCode - 128)})` : ""
          }`;
    await this.#dropClient(row.id);
    const stopping = await this.#move(row, ["running"], "stopping", { error: why });
    return stopping && this.#move(stopping, ["stopping"], "stopped");
  }

  /** A `lost` sandbox whose container is still here: running if its agent answers, stopped if it stopped. */
  async #revive(row: VmRow, info: { readonly state: string }): Promise<VmRow | undefined> {
    if (!isUp(info)) return this.#move(row, ["lost"], "stopped");
    try {
      const client = await waitForAgent(
        this.deps.backend.agentSocketPath(row.id),
        Math.min(this.#readyTimeoutMs, REVIVE_AGENT_TIMEOUT_MS),
      );
      void this.#cache(row.id, Promise.resolve(client));
    } catch (err) {
      // Left lost (never removed): its files may still matter to someone.
      this.deps.logger.warn({ err, vmId: row.id }, "lost sandbox's agent does not answer");
      return undefined;
    }
    return this.#move(row, ["lost"], "running", { error: null });
  }

  async #exists(vmId: string): Promise<boolean> {
    try {
      await this.deps.backend.inspect(vmId);
      return true;
    } catch (err) {
      if (err instanceof SandboxNotFoundError) return false;
      throw err;
    }
  }

  /** Deletes this worker's sandboxes whose `expiresAt` has passed; returns their ids. */
  async expire(now: Date = new Date()): Promise<string[]> {
    const rows = await this.deps.repos.vms.listByWorker(this.deps.workerId, this.kind);
    const due = rows.filter((r) => r.expiresAt && r.expiresAt <= now && r.status !== "deleting");
    for (const r of due)
      await this.delete(r.id).catch((err: unknown) =>
        this.deps.logger.warn({ err, vmId: r.id }, "expiring sandbox failed"),
      );
    return due.map((r) => r.id);
  }

  /**
   * Stops this worker's running sandboxes that have run no command for `idleMs` (since they
   * became ready, when they have run none here), and run none now (an open terminal or a long
   * command keeps its sandbox). Warm-pool sandboxes are never idle-stopped: being ready is their
   * job. Returns the ids stopped.
   */
  async stopIdle(idleMs: number, now: number = Date.now()): Promise<string[]> {
    const rows = await this.deps.repos.vms.listByWorker(this.deps.workerId, this.kind);
    const idle = rows.filter((r) => {
      if (r.status !== "running" || (r.metadata as { pool?: string }).pool === "warm") return false;
      if (this.#busy.has(r.id)) return false;
      const last = this.#lastActive.get(r.id) ?? r.readyAt?.getTime() ?? r.createdAt.getTime();
      return now - last >= idleMs;
    });
    const stopped: string[] = [];
    for (const r of idle) {
      try {
        await this.stop(r.id);
        stopped.push(r.id);
      } catch (err) {
        this.deps.logger.warn({ err, vmId: r.id }, "idle stop failed");
      }
    }
    return stopped;
  }

  /**
   * Stops watching the backend, closes cached agent connections and waits for the deferred
   * completion writes still in flight.
   */
  async close(): Promise<void> {
    for (const stop of [...this.#watches]) stop();
    for (const id of [...this.#clients.keys()]) await this.#dropClient(id);
    await this.#deferredWrites.drain();
  }

  /** Resolves once every deferred completion write started so far has settled. */
  settled(): Promise<void> {
    return this.#deferredWrites.drain();
  }

  async #own(vmId: string): Promise<VmRow> {
    const row = await this.deps.repos.vms.get(vmId);
    if (!row) throw new NotFoundError("sandbox", vmId);
    this.#sameBackend(row);
    if (row.workerId !== this.deps.workerId) {
      throw new ConflictError(
        `sandbox ${vmId} belongs to worker ${row.workerId ?? "none"}, not ${this.deps.workerId}`,
      );
    }
    return row;
  }

  /** The row of a running sandbox of this worker (typed errors otherwise; deleted is unknown). */
  async #running(vmId: string): Promise<VmRow> {
    const row = await this.deps.repos.vms.get(vmId);
    if (!row || row.status === "deleted") throw new NotFoundError("sandbox", vmId);
    this.#sameBackend(row);
    if (row.workerId !== this.deps.workerId) {
      throw new ConflictError(
        `sandbox ${vmId} runs on worker ${row.workerId ?? "none"}, not on ${this.deps.workerId}`,
      );
    }
    if (row.status !== "running") {
      throw new ConflictError(`sandbox ${vmId} is ${row.status}, not running`);
    }
    return row;
  }

  #sameBackend(row: VmRow): void {
    if (row.backend !== this.kind) {
      throw new ConflictError(
        `sandbox ${row.id} is a ${row.backend} sandbox; this is the ${this.kind} manager`,
      );
    }
  }

  async #dropClient(vmId: string): Promise<void> {
    const c = this.#clients.get(vmId);
    this.#clients.delete(vmId);
    if (c) (await c.catch(() => undefined))?.close();
  }

  async #move(
    row: VmRow,
    from: readonly VmStatus[],
    to: VmStatus,
    changes: { error?: string | null; workerId?: string } = {},
  ): Promise<VmRow | undefined> {
    const next = await this.deps.repos.vms.updateStatus(row.id, from, to, changes);
    if (next) {
      const event = createEvent(vmEventTypeForStatus(to), {
        vm: toVm(next),
        previousStatus: row.status,
      });
      await this.deps.bus.publish(event as DomainEvent);
    }
    return next;
  }
}

/** The exit code a shell reports for a death by `signal` (`128 + n`), for protocols that need one. */
export function exitCodeForSignal(signal: string): number {
  const n = (osConstants.signals as Record<string, number | undefined>)[signal];
  return 128 + (n ?? 0);
}

/** Whether a container is up (its agent may answer). */
function isUp(info: { readonly state: string }): boolean {
  return info.state === "running" || info.state === "restarting" || info.state === "paused";
}

function signalName(n: number): string {
  const entry = Object.entries(osConstants.signals).find(([, v]) => v === n);
  return entry ? entry[0] : `signal ${n}`;
}

function egressOf(network: unknown): EgressPolicy {
  const egress = (network as Partial<NetworkPolicy> | null)?.egress;
  return egress ?? "allow-all";
}
