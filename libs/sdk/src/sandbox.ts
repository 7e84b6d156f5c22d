/**
 * `Sandbox`: a handle on one sandbox, with its commands and files.
 * @module
 */
import {
  executeResponseSchema,
  executionSchema,
  pageSchema,
  fileListResponseSchema,
  fileWriteResponseSchema,
  taskAcceptedResponseSchema,
  vmMetricsResponseSchema,
  vmResponseSchema,
  type Execution,
  type Page,
  type FileEntry,
  type FileWriteResponse,
  type Vm,
  type VmMetrics,
  type VmStatus,
} from "@aetherium/types";
import { concatBytes, toBytes, utf8Decode } from "./base64.js";
import { SandboxError, TimeoutError } from "./errors.js";
import { ExecSession, type ExecSessionOptions, type OutputListener } from "./exec-session.js";
import { sleep } from "./timing.js";
import { checkShape, seg, type Transport } from "./transport.js";

/** Options of {@link Sandbox.exec}. */
export interface ExecOptions {
  /** Arguments: with `args` (even `[]`) the command runs directly, without `/bin/sh -c`. */
  readonly args?: readonly string[];
  /** Extra environment variables for this command. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory (absolute). */
  readonly cwd?: string;
  /** User name or uid to run as. */
  readonly user?: string;
  /** Text for stdin, which is then closed. */
  readonly stdin?: string;
  /** Kill the command after this many ms. */
  readonly timeoutMs?: number;
  /**
   * Receives stdout as it is written. Giving this or `onStderr` runs the command over the exec
   * WebSocket, so output streams live; without either, one `POST /execute` returns it at the end.
   */
  readonly onStdout?: OutputListener;
  /** Receives stderr as it is written (see `onStdout`). */
  readonly onStderr?: OutputListener;
  /** Cancels the call (and, when streaming, kills the command). */
  readonly signal?: AbortSignal;
}

/** Options of {@link Sandbox.spawn}. */
export type SpawnOptions = ExecSessionOptions;

/** Options of waits on a sandbox's state. */
export interface WaitOptions {
  /** Give up with `TimeoutError` after this many ms (default 120 000). */
  readonly timeoutMs?: number;
  /** Poll interval in ms (default 250). */
  readonly intervalMs?: number;
  /** Called with each snapshot whose status or pending reason differs from the previous one (progress display). */
  readonly onStatus?: (vm: Vm) => void;
  /** Cancels the wait. */
  readonly signal?: AbortSignal;
}

/** Options of {@link Sandbox.stop}, {@link Sandbox.start}, {@link Sandbox.pause}, {@link Sandbox.resume} and {@link Sandbox.delete}. */
export interface ActionOptions {
  /** Answer once done (`?wait=true`) instead of as soon as the task is queued. */
  readonly wait?: boolean;
  /** Cancels the call. */
  readonly signal?: AbortSignal;
}

/** What a lifecycle action returns: its task, or null when it was waited for. */
export interface ActionResult {
  /** The task doing the work (`client.tasks.wait(taskId)`), or null when `wait` was set. */
  readonly taskId: string | null;
}

// Statuses from which a sandbox cannot reach a given live status any more.
const DEAD_ENDS: Readonly<Partial<Record<VmStatus, readonly VmStatus[]>>> = {
  running: ["failed", "lost", "deleting", "deleted", "stopped"],
  paused: ["failed", "lost", "deleting", "deleted"],
  stopped: ["failed", "lost", "deleting", "deleted"],
  deleted: [],
};

/** Reads, writes and lists files inside one sandbox. */
export class SandboxFiles {
  readonly #transport: Transport;
  readonly #id: string;

  /** @internal Use `sandbox.files`. */
  constructor(transport: Transport, id: string) {
    this.#transport = transport;
    this.#id = id;
  }

  /** The bytes of the file at absolute `path`. */
  read(path: string, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    return this.#transport.requestBytes("GET", `/vms/${seg(this.#id)}/files`, {
      query: { path },
      signal: options.signal,
    });
  }

  /** The file at `path` decoded as UTF-8 text. */
  async readText(path: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    return utf8Decode(await this.read(path, options));
  }

  /**
   * Writes `data` (text as UTF-8) to absolute `path`, creating parent directories. `mode` sets the
   * permission bits (`0o755`).
   */
  write(
    path: string,
    data: string | Uint8Array,
    options: { mode?: number; signal?: AbortSignal } = {},
  ): Promise<FileWriteResponse> {
    return this.#transport
      .request("PUT", `/vms/${seg(this.#id)}/files`, {
        query: { path, mode: options.mode === undefined ? undefined : options.mode.toString(8) },
        bytes: toBytes(data),
        signal: options.signal,
      })
      .then((body) => checkShape(fileWriteResponseSchema, body, "PUT /vms/{id}/files"));
  }

  /** The entries of directory `path`. */
  async list(path: string, options: { signal?: AbortSignal } = {}): Promise<FileEntry[]> {
    const body = await this.#transport.requestChecked(
      fileListResponseSchema,
      "GET",
      `/vms/${seg(this.#id)}/files/list`,
      { query: { path }, signal: options.signal },
    );
    return body.entries;
  }

  /** Removes the file at `path`; a directory needs `recursive`. */
  async remove(
    path: string,
    options: { recursive?: boolean; signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.#transport.request("DELETE", `/vms/${seg(this.#id)}/files`, {
      query: { path, recursive: options.recursive },
      signal: options.signal,
    });
  }
}

/**
 * A handle on one sandbox. `vm` is the last snapshot the SDK saw; {@link Sandbox.refresh} fetches a
 * new one. Get one from `client.vms.create()` or `client.vms.get()`.
 */
export class Sandbox {
  readonly #transport: Transport;
  #vm: Vm;
  /** Files inside the sandbox. */
  readonly files: SandboxFiles;
  /** The task that created it, when known (`client.vms.create()` without `wait`). */
  readonly taskId: string | null;

  /** @internal Use `client.vms.create()` / `client.vms.get()`. */
  constructor(transport: Transport, vm: Vm, taskId: string | null = null) {
    this.#transport = transport;
    this.#vm = vm;
    this.taskId = taskId;
    this.files = new SandboxFiles(transport, vm.id);
  }

  /** The sandbox's id. */
  get id(): string {
    return this.#vm.id;
  }

  /** The sandbox's name. */
  get name(): string {
    return this.#vm.name;
  }

  /** Status in the last snapshot. */
  get status(): VmStatus {
    return this.#vm.status;
  }

  /** The last snapshot. */
  get vm(): Vm {
    return this.#vm;
  }

  /** Plain data for `JSON.stringify`: the snapshot. */
  toJSON(): Vm {
    return this.#vm;
  }

  /**
   * Measures the running sandbox now: CPUs, CPU use over half a second, memory and disk (see
   * `VmMetrics`). A sandbox that is not running answers 409.
   */
  async metrics(options: { signal?: AbortSignal } = {}): Promise<VmMetrics> {
    const body = await this.#transport.requestChecked(
      vmMetricsResponseSchema,
      "GET",
      `/vms/${seg(this.id)}/metrics`,
      { signal: options.signal },
    );
    return body.metrics;
  }

  /** Fetches the current state. */
  async refresh(options: { signal?: AbortSignal } = {}): Promise<Vm> {
    const body = await this.#transport.requestChecked(
      vmResponseSchema,
      "GET",
      `/vms/${seg(this.id)}`,
      { signal: options.signal },
    );
    this.#vm = body.vm;
    return body.vm;
  }

  /**
   * Polls until the sandbox reaches `status`. Throws {@link SandboxError} when it reaches a status
   * from which `status` cannot follow (`failed`, `lost`, deleted…), {@link TimeoutError} when
   * `timeoutMs` runs out.
   */
  async waitUntil(status: VmStatus, options: WaitOptions = {}): Promise<Vm> {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const interval = options.intervalMs ?? 250;
    const deadline = Date.now() + timeoutMs;
    const deadEnds = DEAD_ENDS[status] ?? ["failed", "lost", "deleted"];
    let last: string | undefined;
    for (;;) {
      const vm = await this.refresh({ signal: options.signal }).catch((err: unknown) => {
        // Waiting for `deleted` and the row is gone: that is the goal, not an error.
        if (status === "deleted" && (err as { status?: number }).status === 404) return undefined;
        throw err;
      });
      if (vm === undefined) return { ...this.#vm, status: "deleted" };
      // A waiting sandbox's reason is news too ("waiting for capacity: …").
      const seen = `${vm.status}\0${vm.pendingReason ?? ""}`;
      if (seen !== last) {
        last = seen;
        options.onStatus?.(vm);
      }
      if (vm.status === status) return vm;
      if (deadEnds.includes(vm.status)) {
        throw new SandboxError(
          `sandbox ${vm.name} (${vm.id}) is ${vm.status}${vm.error ? `: ${vm.error}` : ""}; it will not become ${status}`,
          vm.id,
          vm.status,
          vm.error,
        );
      }
      if (Date.now() >= deadline) {
        throw new TimeoutError(
          `sandbox ${vm.name} (${vm.id}) is still ${vm.status} after ${timeoutMs} ms (waiting for ${status})` +
            (vm.pendingReason ? `: ${vm.pendingReason}` : ""),
          timeoutMs,
        );
      }
      await sleep(Math.min(interval, Math.max(0, deadline - Date.now())), options.signal);
    }
  }

  /**
   * Runs `command` and resolves with its execution once it ends. A non-zero exit code is a normal
   * result (`execution.exitCode`), not an error. With `onStdout`/`onStderr` the output streams live
   * over the WebSocket and the returned execution holds all of it.
   */
  async exec(command: string, options: ExecOptions = {}): Promise<Execution> {
    if (options.onStdout || options.onStderr) return this.#execStreaming(command, options);
    const body = {
      command,
      ...(options.args !== undefined && { args: [...options.args] }),
      ...(options.env !== undefined && { env: { ...options.env } }),
      ...(options.cwd !== undefined && { cwd: options.cwd }),
      ...(options.user !== undefined && { user: options.user }),
      ...(options.stdin !== undefined && { stdin: options.stdin }),
      ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
    };
    const res = await this.#transport.requestChecked(
      executeResponseSchema,
      "POST",
      `/vms/${seg(this.id)}/execute`,
      { body, signal: options.signal },
    );
    return res.execution;
  }

  async #execStreaming(command: string, options: ExecOptions): Promise<Execution> {
    const stdout: Uint8Array[] = [];
    const stderr: Uint8Array[] = [];
    const startedAt = new Date();
    const session = await ExecSession.open(this.#transport, this.id, command, {
      ...options,
      onStdout: (chunk) => {
        stdout.push(chunk);
        options.onStdout?.(chunk);
      },
      onStderr: (chunk) => {
        stderr.push(chunk);
        options.onStderr?.(chunk);
      },
    });
    const exit = await session.wait();
    const completedAt = new Date();
    return {
      id: exit.executionId,
      vmId: this.id,
      command,
      args: options.args ? [...options.args] : [],
      exitCode: exit.exitCode,
      stdout: utf8Decode(concatBytes(stdout)),
      stderr: utf8Decode(concatBytes(stderr)),
      stdoutTruncated: false,
      stderrTruncated: false,
      error: exit.timedOut ? `timed out after ${options.timeoutMs ?? "?"} ms` : null,
      startedAt: startedAt.toISOString(),
      completedAt: completedAt.toISOString(),
      durationMs: exit.durationMs ?? completedAt.getTime() - startedAt.getTime(),
      pty: false,
    };
  }

  /** One page of this sandbox's recorded commands, newest first. */
  executions(
    options: { limit?: number; cursor?: string; signal?: AbortSignal } = {},
  ): Promise<Page<Execution>> {
    return this.#transport.requestChecked(
      pageSchema(executionSchema),
      "GET",
      `/vms/${seg(this.id)}/executions`,
      { query: { limit: options.limit, cursor: options.cursor }, signal: options.signal },
    );
  }

  /**
   * Starts `command` over the exec WebSocket and returns the live session: write stdin, send
   * signals, resize a terminal (`pty`), and `wait()` for the exit.
   */
  spawn(command: string, options: SpawnOptions = {}): Promise<ExecSession> {
    return ExecSession.open(this.#transport, this.id, command, options);
  }

  async #action(
    method: string,
    path: string,
    options: ActionOptions & { body?: unknown },
  ): Promise<ActionResult> {
    const body = await this.#transport.request(method, `/vms/${seg(this.id)}${path}`, {
      query: options.wait ? { wait: true } : undefined,
      body: options.body,
      signal: options.signal,
    });
    if (!options.wait) {
      // A sandbox never placed on a worker is deleted at once: `204` (no body), no task.
      if (body === undefined || body === null) return { taskId: null };
      const accepted = checkShape(taskAcceptedResponseSchema, body, `${method} /vms/{id}${path}`);
      return { taskId: accepted.taskId };
    }
    if (body !== undefined && vmResponseSchema.safeParse(body).success) {
      this.#vm = (body as { vm: Vm }).vm;
    }
    return { taskId: null };
  }

  /** Stops the sandbox (its disk is kept); `force` kills instead of shutting down cleanly. */
  async stop(options: ActionOptions & { force?: boolean } = {}): Promise<ActionResult> {
    const result = await this.#action("POST", "/stop", {
      ...options,
      body: options.force !== undefined ? { force: options.force } : undefined,
    });
    if (options.wait) await this.refresh({ signal: options.signal });
    return result;
  }

  /** Starts a stopped sandbox again. */
  async start(options: ActionOptions = {}): Promise<ActionResult> {
    const result = await this.#action("POST", "/start", options);
    if (options.wait) await this.refresh({ signal: options.signal });
    return result;
  }

  /**
   * Pauses the sandbox: frozen in place, its processes and memory kept, no CPU used, and no
   * automatic deletion while paused. {@link resume} brings it back as it was.
   */
  async pause(options: ActionOptions = {}): Promise<ActionResult> {
    const result = await this.#action("POST", "/pause", options);
    if (options.wait) await this.refresh({ signal: options.signal });
    return result;
  }

  /** Resumes a paused sandbox; its processes carry on, and its timeout counts from now. */
  async resume(options: ActionOptions = {}): Promise<ActionResult> {
    const result = await this.#action("POST", "/resume", options);
    if (options.wait) await this.refresh({ signal: options.signal });
    return result;
  }

  /** Deletes the sandbox; with `wait` resolves once it is gone. */
  async delete(options: ActionOptions = {}): Promise<ActionResult> {
    const result = await this.#action("DELETE", "", options);
    if (options.wait) this.#vm = { ...this.#vm, status: "deleted" };
    return result;
  }

  /** Sets the time left before automatic deletion to `timeoutSec` from now. */
  async setTimeout(timeoutSec: number, options: { signal?: AbortSignal } = {}): Promise<Vm> {
    const body = await this.#transport.request("POST", `/vms/${seg(this.id)}/timeout`, {
      body: { timeoutSec },
      signal: options.signal,
    });
    // The answer's shape is not pinned down in spec/api.md; take a `{vm}` if given, else re-read.
    if (vmResponseSchema.safeParse(body).success) this.#vm = (body as { vm: Vm }).vm;
    else await this.refresh(options);
    return this.#vm;
  }
}
