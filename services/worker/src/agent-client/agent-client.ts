import { randomUUID } from "node:crypto";
import {
  AGENT_CLIENT_NOTIFICATIONS,
  AGENT_METHODS,
  AGENT_NOTIFICATIONS,
  DEFAULT_OUTPUT_WINDOW_BYTES,
  MAX_WRITE_CHUNK_BYTES,
  execExitNotificationSchema,
  execOutputNotificationSchema,
  type AgentHealthResult,
  type AgentInfoResult,
  type AgentMethodName,
  type AgentMethodParams,
  type AgentMethodResult,
  type AgentProcessInfo,
  type AgentSignal,
  type ExecAttachResult,
} from "@aetherium/types";
import { AgentConnection, type AgentClientOptions } from "./agent-connection.js";
import { AgentConnectionError } from "./agent-errors.js";
import { AgentFiles } from "./agent-files.js";
import {
  AgentProcess,
  ProcessStream,
  type AgentExecSpec,
  type ExecOptions,
  type ExecOutputHandlers,
  type ExecResult,
} from "./agent-process.js";
import { toBuffer } from "./bytes.js";

export type { AgentClientOptions } from "./agent-connection.js";
export type { AgentReadChunk } from "./agent-files.js";
export {
  AgentProcess,
  type AgentExecSpec,
  type ExecOptions,
  type ExecOutputHandlers,
  type ExecResult,
} from "./agent-process.js";

/**
 * The worker's client of one guest agent, over its unix socket (JSON-RPC 2.0, see
 * `spec/agent-protocol.md`): the processes it runs and the files it holds. Output is streamed
 * through callbacks with flow control; errors from the agent become `AgentError`, a lost
 * connection {@link AgentConnectionError}. The connection and its token handshake are
 * `agent-connection.ts`; the file operations `agent-files.ts`.
 */
export class AgentClient {
  readonly #connection: AgentConnection;
  readonly #streams = new Map<string, ProcessStream>();

  /** File operations inside the sandbox. */
  readonly fs: AgentFiles;

  private constructor(connection: AgentConnection) {
    this.#connection = connection;
    this.fs = new AgentFiles(connection);
    connection.onFrame((f) => this.#streams.get(f.processId)?.output(f.stream, f.seq, f.data));
    connection.onNotification(AGENT_NOTIFICATIONS.execOutput, (raw: unknown) => {
      const n = execOutputNotificationSchema.safeParse(raw);
      if (!n.success) return;
      const s = this.#streams.get(n.data.processId);
      if (s === undefined) return;
      s.output(n.data.stream, n.data.seq, Buffer.from(n.data.data, "base64"));
    });
    connection.onNotification(AGENT_NOTIFICATIONS.execExit, (raw: unknown) => {
      const n = execExitNotificationSchema.safeParse(raw);
      if (!n.success) return;
      const s = this.#streams.get(n.data.processId);
      if (s === undefined) return;
      this.#streams.delete(n.data.processId);
      const { processId: _id, ...info } = n.data;
      s.exited(info);
    });
    connection.onClose(() => {
      const err = new AgentConnectionError(
        "connection to the agent was lost; the process may still run (attach to it again)",
      );
      for (const s of this.#streams.values()) s.lost(err);
      this.#streams.clear();
    });
  }

  /** Connects to the agent listening on `socketPath`. */
  static async connect(socketPath: string, options: AgentClientOptions = {}): Promise<AgentClient> {
    return new AgentClient(await AgentConnection.open(socketPath, options));
  }

  /** Whether the connection is closed. */
  get isClosed(): boolean {
    return this.#connection.isClosed;
  }

  /** Calls `listener` once when the connection closes. */
  onClose(listener: () => void): void {
    this.#connection.onClose(listener);
  }

  /** Closes the connection. Processes in the sandbox keep running. */
  close(): void {
    this.#connection.close();
  }

  /** Sends one request, with a time limit, mapping errors to typed ones. */
  request<M extends AgentMethodName>(
    method: M,
    params: AgentMethodParams<M>,
    timeoutMs?: number,
  ): Promise<AgentMethodResult<M>> {
    return this.#connection.request(method, params, timeoutMs);
  }

  #track(
    processId: string,
    handlers: ExecOutputHandlers,
    window: number = DEFAULT_OUTPUT_WINDOW_BYTES,
  ): ProcessStream {
    const s = new ProcessStream(
      processId,
      handlers,
      (bytes) => this.#connection.notify(AGENT_CLIENT_NOTIFICATIONS.execAck, { processId, bytes }),
      Math.max(1, Math.floor(window / 4)),
    );
    this.#streams.set(processId, s);
    return s;
  }

  /** Agent version, protocol version, pid, uptime. */
  info(): Promise<AgentInfoResult> {
    return this.request(AGENT_METHODS.info, {});
  }

  /** Liveness, running processes, agent memory. */
  health(): Promise<AgentHealthResult> {
    return this.request(AGENT_METHODS.health, {});
  }

  /**
   * Runs a command to the end, streaming its output through the callbacks. No time limit unless
   * `spec.timeoutMs` is given.
   */
  async exec(spec: AgentExecSpec, options: ExecOptions = {}): Promise<ExecResult> {
    options.signal?.throwIfAborted();
    const proc = await this.startProcess(spec, options);
    const signal = options.signal;
    if (signal === undefined) return proc.done;
    const onAbort = (): void => {
      proc.kill().catch(() => {});
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await proc.done;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Starts a process and returns at once; output goes to the callbacks until `done`. The process
   * outlives this connection.
   */
  async startProcess(spec: AgentExecSpec, options: ExecOptions = {}): Promise<AgentProcess> {
    const processId = spec.processId ?? randomUUID();
    const stdin = spec.stdin === undefined ? undefined : toBuffer(spec.stdin);
    const inline = stdin !== undefined && stdin.length <= MAX_WRITE_CHUNK_BYTES ? stdin : undefined;
    const keepOpen = spec.openStdin ?? spec.pty !== undefined;
    // Registered before the request: output may arrive before the response.
    const stream = this.#track(processId, options, options.window);
    let started: AgentMethodResult<"exec.start">;
    try {
      started = await this.request(AGENT_METHODS.execStart, {
        ...spec,
        processId,
        stdin: inline?.toString("base64"),
        openStdin: stdin !== undefined && inline === undefined ? true : keepOpen,
        window: options.window,
        outputEncoding: "binary",
      });
    } catch (err) {
      this.#streams.delete(processId);
      throw err;
    }
    const proc = new AgentProcess(this, stream, processId, started.pid);
    if (stdin !== undefined && inline === undefined) {
      await this.stdin(processId, stdin);
      if (!keepOpen) await this.closeStdin(processId);
    }
    return proc;
  }

  /**
   * Attaches to a running (or recently exited) process, on this or a new connection: buffered
   * output from `fromSeq` (all that is buffered when absent) is replayed, then live output.
   */
  async attach(
    processId: string,
    handlers: ExecOutputHandlers = {},
    options: { fromSeq?: number; window?: number } = {},
  ): Promise<{ process: AgentProcess; attach: ExecAttachResult }> {
    const stream = this.#track(processId, handlers, options.window);
    try {
      const r = await this.request(AGENT_METHODS.execAttach, {
        processId,
        ...options,
        outputEncoding: "binary",
      });
      return { process: new AgentProcess(this, stream, processId, r.process.pid), attach: r };
    } catch (err) {
      this.#streams.delete(processId);
      throw err;
    }
  }

  /** Stops receiving a process's output; it keeps running. */
  async detach(processId: string): Promise<void> {
    await this.request(AGENT_METHODS.execDetach, { processId });
    this.#streams.delete(processId);
  }

  /** Writes to a process's standard input (any size: sent in chunks, each acknowledged). */
  async stdin(processId: string, data: Uint8Array | string): Promise<void> {
    const buf = toBuffer(data);
    for (let i = 0; i < buf.length || i === 0; i += MAX_WRITE_CHUNK_BYTES) {
      const chunk = buf.subarray(i, i + MAX_WRITE_CHUNK_BYTES);
      await this.request(AGENT_METHODS.execStdin, { processId, data: chunk.toString("base64") });
      if (buf.length === 0) break;
    }
  }

  /** Closes a process's standard input. */
  async closeStdin(processId: string): Promise<void> {
    await this.request(AGENT_METHODS.execCloseStdin, { processId });
  }

  /** Sends a signal to a process's group (PTY: the terminal's foreground group). */
  async signal(processId: string, signal: AgentSignal): Promise<void> {
    await this.request(AGENT_METHODS.execSignal, { processId, signal });
  }

  /** Sends SIGKILL to a process's group. */
  kill(processId: string): Promise<void> {
    return this.signal(processId, "SIGKILL");
  }

  /** Resizes a PTY process's terminal. */
  async resize(processId: string, cols: number, rows: number): Promise<void> {
    await this.request(AGENT_METHODS.execResize, { processId, cols, rows });
  }

  /** Running and recently exited processes. */
  async list(): Promise<AgentProcessInfo[]> {
    return (await this.request(AGENT_METHODS.execList, {})).processes;
  }

  /** Waits up to `timeoutMs` for a process to exit; returns it as it is then. */
  async wait(processId: string, timeoutMs = 60_000): Promise<AgentProcessInfo> {
    const r = await this.request(
      AGENT_METHODS.execWait,
      { processId, timeoutMs },
      timeoutMs + this.#connection.requestTimeoutMs,
    );
    return r.process;
  }

  /** Sets secrets in agent memory (merged into later processes' environment). */
  async setSecrets(
    secrets: Record<string, string>,
    options: { replace?: boolean } = {},
  ): Promise<number> {
    return (await this.request(AGENT_METHODS.secretsSet, { secrets, ...options })).count;
  }
}
