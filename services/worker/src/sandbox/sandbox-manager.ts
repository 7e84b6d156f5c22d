import type { EventBus, Logger } from "@aetherium/common";
import type { VmBackend } from "@aetherium/types";
import type { ExecutionRow, Repositories, VmRow } from "@aetherium/core";
import type {
  AgentClient,
  AgentExecSpec,
  AgentProcess,
  ExecOutputHandlers,
} from "../agent-client/agent-client.js";
import type { SandboxBackend } from "../backends/sandbox-backend.js";
import { AgentConnections } from "./agent-connections.js";
import { SandboxActivity } from "./sandbox-activity.js";
import {
  ExecRecorder,
  type ExecHandle,
  type ExecRequest,
  type ExecStreamHandlers,
  type RecordedExecOptions,
  type StreamExecRequest,
} from "./sandbox-exec.js";
import {
  SandboxHousekeeping,
  type ReconcileOptions,
  type ReconcileResult,
} from "./sandbox-housekeeping.js";
import { SandboxLifecycle } from "./sandbox-lifecycle.js";
import { SandboxRecords } from "./sandbox-records.js";

export {
  exitCodeForSignal,
  type ExecHandle,
  type ExecRequest,
  type ExecStreamHandlers,
  type StreamExecRequest,
} from "./sandbox-exec.js";
export type { ReconcileOptions, ReconcileResult } from "./sandbox-housekeeping.js";

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
  /** How long one tool of a new sandbox may take to install (default 10 minutes). */
  readonly toolTimeoutMs?: number;
}

/**
 * A worker's sandboxes, kept honest: a row turns `running` only once the guest agent answers,
 * every transition is a guarded update (the status it expects, or nothing), failures record why,
 * and `reconcile` makes the rows and the backend agree after a restart.
 *
 * It is the one face of its parts: the records and their status moves (`sandbox-records.ts`),
 * lifecycle (`sandbox-lifecycle.ts`), recorded commands (`sandbox-exec.ts`), housekeeping
 * (`sandbox-housekeeping.ts`) and the agent connections (`agent-connections.ts`).
 */
export class SandboxManager {
  readonly #records: SandboxRecords;
  readonly #agents: AgentConnections;
  readonly #activity = new SandboxActivity();
  readonly #lifecycle: SandboxLifecycle;
  readonly #exec: ExecRecorder;
  readonly #housekeeping: SandboxHousekeeping;

  constructor(deps: SandboxManagerDeps) {
    const { backend, repos, bus, workerId, logger } = deps;
    const agentReadyTimeoutMs = deps.agentReadyTimeoutMs ?? 30_000;
    this.#records = new SandboxRecords({ repos, bus, workerId, kind: backend.kind });
    this.#agents = new AgentConnections({ backend, logger });
    const parts = { backend, repos, logger, records: this.#records, agents: this.#agents };
    this.#lifecycle = new SandboxLifecycle({
      ...parts,
      agentReadyTimeoutMs,
      bus,
      ...(deps.toolTimeoutMs !== undefined ? { toolTimeoutMs: deps.toolTimeoutMs } : {}),
    });
    this.#exec = new ExecRecorder({
      repos,
      logger,
      records: this.#records,
      agents: this.#agents,
      activity: this.#activity,
      outputLimitBytes: deps.outputLimitBytes ?? 1024 * 1024,
      outputFlush: {
        intervalMs: deps.outputFlush?.intervalMs ?? 1000,
        maxBytes: deps.outputFlush?.maxBytes ?? 64 * 1024,
      },
      deferredRecordLimit: deps.deferredRecordLimit ?? 256,
    });
    this.#housekeeping = new SandboxHousekeeping({
      ...parts,
      activity: this.#activity,
      lifecycle: this.#lifecycle,
      agentReadyTimeoutMs,
    });
  }

  /** The backend this manager drives; it answers only for sandboxes recorded on it. */
  get kind(): VmBackend {
    return this.#records.kind;
  }

  /**
   * Builds and boots the sandbox recorded as `sandboxId` (status pending), claiming it for this
   * worker, and installs its tools (see {@link SandboxLifecycle.create}). A half-made sandbox from
   * an earlier attempt is removed first, so the job may be retried.
   */
  create(sandboxId: string, signal?: AbortSignal): Promise<VmRow> {
    return this.#lifecycle.create(sandboxId, signal);
  }

  /** Stops a running sandbox; its files stay until it is deleted. */
  stop(sandboxId: string, force = false): Promise<VmRow> {
    return this.#lifecycle.stop(sandboxId, force);
  }

  /** Freezes a running sandbox in place; see {@link SandboxLifecycle.pause}. */
  pause(sandboxId: string): Promise<VmRow> {
    return this.#lifecycle.pause(sandboxId);
  }

  /** Thaws a paused sandbox; see {@link SandboxLifecycle.resume}. */
  resume(sandboxId: string): Promise<VmRow> {
    return this.#lifecycle.resume(sandboxId);
  }

  /** Starts a stopped sandbox again; running once its agent answers. */
  start(sandboxId: string): Promise<VmRow> {
    return this.#lifecycle.start(sandboxId);
  }

  /** Removes the sandbox and everything it held; deleting a deleted one is a no-op. */
  delete(sandboxId: string): Promise<VmRow | undefined> {
    return this.#lifecycle.delete(sandboxId);
  }

  /**
   * Runs a command to its end and records it in `executions` (exit code, output prefixes with
   * truncation flags, duration). A non-zero exit is a result, not an error. Aborting `signal`
   * kills the command (it is recorded as killed). See {@link RecordedExecOptions.deferRecord}.
   */
  exec(
    sandboxId: string,
    req: ExecRequest,
    options: RecordedExecOptions = {},
  ): Promise<ExecutionRow> {
    return this.#exec.exec(sandboxId, req, options);
  }

  /**
   * Starts a command in a running sandbox of this worker and returns at once, recording it in
   * `executions` like {@link exec}: the row is created before the command starts and completed
   * when it ends. Output goes to `handlers` (a returned promise is backpressure). Throws
   * NotFoundError / ConflictError when the sandbox is unknown, elsewhere or not running, and the
   * agent's errors (spawnFailed…, unavailable) when the command cannot start.
   */
  startExec(
    sandboxId: string,
    req: StreamExecRequest,
    handlers: ExecStreamHandlers = {},
    options: { deferRecord?: boolean } = {},
  ): Promise<ExecHandle> {
    return this.#exec.startExec(sandboxId, req, handlers, options);
  }

  /**
   * The agent client of a running sandbox of this worker, for file operations: NotFoundError
   * when the sandbox is unknown or deleted, ConflictError when it runs elsewhere or is not
   * running, unavailable when its agent does not answer. Counts as activity for idle stop.
   */
  async runningClient(sandboxId: string): Promise<AgentClient> {
    await this.#records.running(sandboxId);
    this.#activity.touch(sandboxId);
    return this.#agents.get(sandboxId);
  }

  /**
   * Starts a process in a running sandbox of this worker without an `executions` record, for a
   * caller that keeps its own (a prompt stores its answer redacted; the raw output must not be
   * stored). It counts as activity while it runs, so idle stop leaves the sandbox alone.
   */
  async startProcess(
    sandboxId: string,
    spec: AgentExecSpec,
    handlers: ExecOutputHandlers,
  ): Promise<AgentProcess> {
    await this.#records.running(sandboxId);
    const client = await this.#agents.get(sandboxId);
    const proc = await client.startProcess(spec, handlers);
    this.#activity.begin(sandboxId);
    proc.done.then(
      () => this.#activity.end(sandboxId),
      () => this.#activity.end(sandboxId),
    );
    return proc;
  }

  /** A connected agent client for a running sandbox of this worker (cached). */
  client(sandboxId: string): Promise<AgentClient> {
    return this.#agents.get(sandboxId);
  }

  /**
   * Tops the warm pool up to `size` ready sandboxes of `shape`, one at a time (a boot is heavy;
   * the pool fills in the background while claims drain it). Returns how many it started.
   */
  refillPool(
    size: number,
    shape: { image: string; vcpus: number; memoryMb: number; diskMb?: number },
  ): Promise<number> {
    return this.#housekeeping.refillPool(size, shape);
  }

  /**
   * Makes rows and backend agree, at start-up and periodically; see
   * {@link SandboxHousekeeping.reconcile} for what it removes, revives and marks.
   */
  reconcile(options: ReconcileOptions = {}): Promise<ReconcileResult> {
    return this.#housekeeping.reconcile(options);
  }

  /**
   * Follows the backend's events so a container killed, OOM-killed or removed behind the
   * platform's back moves its sandbox to a true state at once, and reconciles every
   * `intervalMs` (and after each reconnection of the event stream) in case events were missed.
   * Returns a function that stops both.
   */
  watch(intervalMs = 15_000): () => void {
    return this.#housekeeping.watch(intervalMs);
  }

  /** Deletes this worker's sandboxes whose `expiresAt` has passed; returns their ids. */
  expire(now: Date = new Date()): Promise<string[]> {
    return this.#housekeeping.expire(now);
  }

  /**
   * Stops this worker's running sandboxes that have run no command for `idleMs` (since they
   * became ready, when they have run none here), and run none now (an open terminal or a long
   * command keeps its sandbox). Warm-pool sandboxes are never idle-stopped: being ready is their
   * job. Returns the ids stopped.
   */
  stopIdle(idleMs: number, now: number = Date.now()): Promise<string[]> {
    return this.#housekeeping.stopIdle(idleMs, now);
  }

  /**
   * Stops watching the backend, closes cached agent connections and waits for the deferred
   * completion writes still in flight.
   */
  async close(): Promise<void> {
    this.#housekeeping.stopWatching();
    await this.#agents.dropAll();
    await this.#exec.settled();
  }

  /** Resolves once every deferred completion write started so far has settled. */
  settled(): Promise<void> {
    return this.#exec.settled();
  }
}
