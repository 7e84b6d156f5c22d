import { randomBytes, randomUUID } from "node:crypto";
import { watch, type FSWatcher } from "node:fs";
import net from "node:net";
import path from "node:path";
import {
  AGENT_CLIENT_NOTIFICATIONS,
  AGENT_METHODS,
  AGENT_NOTIFICATIONS,
  DEFAULT_OUTPUT_WINDOW_BYTES,
  MAX_WRITE_CHUNK_BYTES,
  execExitNotificationSchema,
  execOutputNotificationSchema,
  type AgentDirEntry,
  type AgentFileStat,
  type AgentHealthResult,
  type AgentInfoResult,
  type AgentMethodName,
  type AgentMethodParams,
  type AgentMethodResult,
  type AgentProcessInfo,
  type AgentSignal,
  type ExecAttachResult,
  type ExecExitInfo,
  type ExecStartParams,
  type FsMkdirParams,
  type FsReadResult,
  type FsRemoveParams,
  type FsWriteParams,
} from "@aetherium/types";
import {
  createMessageConnection,
  ResponseError,
  type MessageConnection,
} from "vscode-jsonrpc/node";
import {
  AgentFrameReader,
  type OutputFrame,
  SocketMessageWriter,
  isAgentProof,
} from "@aetherium/agent";
import {
  AgentAuthError,
  AgentConnectionError,
  AgentError,
  AgentSocketRefusedError,
  AgentTimeoutError,
} from "./agent-errors.js";
import { pinAgentSocket, type PinnedSocket } from "./pinned-socket.js";

/** Options of {@link AgentClient.connect}. */
export interface AgentClientOptions {
  /** Give up connecting after this long. Default 5000 ms. */
  timeoutMs?: number;
  /** Give up on any single request after this long (not on a running process). Default 60 s. */
  requestTimeoutMs?: number;
  /**
   * The sandbox's agent token. When given, every connection first has the agent prove it holds
   * it (`agent.auth`) and fails with {@link AgentAuthError} before anything else is sent
   * if it cannot: whatever else answers on the socket (another sandbox's agent, any other server)
   * gets no command, file or secret.
   */
  token?: string;
}

/** Callbacks that receive a process's output. Returning a promise slows the process down. */
export interface ExecOutputHandlers {
  /** A chunk of standard output (with a PTY: all terminal output). */
  onStdout?: (data: Buffer) => void | Promise<void>;
  /** A chunk of standard error. */
  onStderr?: (data: Buffer) => void | Promise<void>;
}

/**
 * What to run: `exec.start` params, with `stdin` as bytes or text (any size: beyond one message it
 * is sent in chunks after the start).
 */
export type AgentExecSpec = Omit<
  ExecStartParams,
  "stdin" | "attach" | "window" | "outputEncoding"
> & {
  stdin?: Uint8Array | string;
};

/** Options of {@link AgentClient.exec} and {@link AgentClient.startProcess}. */
export interface ExecOptions extends ExecOutputHandlers {
  /** Aborting kills the process (SIGKILL to its group); the result still reports how it ended. */
  signal?: AbortSignal;
  /** Flow-control window in bytes (`DEFAULT_OUTPUT_WINDOW_BYTES`). */
  window?: number;
}

/** How a process ended: exit code, signal, duration, whether its timeout fired. */
export type ExecResult = ExecExitInfo;

/** `fs.read` as bytes. */
export type AgentReadChunk = Omit<FsReadResult, "data"> & { data: Buffer };

// Error codes vscode-jsonrpc itself uses when a connection fails (not sent by the agent).
const TRANSPORT_CODES = new Set([-32099, -32098, -32097, -32096]);

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A background process's `done` may never be awaited; its rejection must not crash anything.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

function toBuffer(data: Uint8Array | string): Buffer {
  return typeof data === "string"
    ? Buffer.from(data, "utf8")
    : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Client-side state of one process this connection receives output of. */
class ProcessStream {
  nextSeq = 0;
  readonly exit = deferred<ExecExitInfo>();
  private chain: Promise<void> = Promise.resolve();
  private handlerError: unknown;
  /** Chunks received whose handler has not finished yet. */
  private queued = 0;
  /** Bytes consumed and not yet acknowledged. */
  private unacked = 0;

  constructor(
    readonly processId: string,
    private readonly handlers: ExecOutputHandlers,
    private readonly ack: (bytes: number) => void,
    /** Acknowledge once this many bytes are consumed (a quarter of the window). */
    private readonly ackEvery: number,
  ) {}

  // Handlers run one at a time in arrival order; a chunk is acknowledged only after its handler
  // has finished, which is what lets a slow consumer hold the process back. Acks are batched: one
  // per quarter window, or as soon as nothing more is queued, so the agent (whose window is then
  // empty) never waits on an ack that is being held back. One ack per 64 KiB chunk was ~1600
  // JSON-RPC messages per 100 MiB for the agent to parse, on the sandbox's one CPU.
  output(stream: "stdout" | "stderr", seq: number, data: Buffer): void {
    if (seq < this.nextSeq) return; // Already seen (a re-attach replays from an earlier seq).
    this.nextSeq = seq + 1;
    const handler = stream === "stdout" ? this.handlers.onStdout : this.handlers.onStderr;
    this.queued++;
    this.chain = this.chain.then(async () => {
      try {
        await handler?.(data);
      } catch (err) {
        this.handlerError ??= err;
      }
      this.queued--;
      this.unacked += data.length;
      if (this.unacked >= this.ackEvery || this.queued === 0) {
        this.ack(this.unacked);
        this.unacked = 0;
      }
    });
  }

  exited(info: ExecExitInfo): void {
    this.chain = this.chain.then(() => {
      if (this.handlerError === undefined) this.exit.resolve(info);
      else this.exit.reject(this.handlerError);
    });
  }

  lost(err: unknown): void {
    this.chain = this.chain.then(() => this.exit.reject(err));
  }
}

/**
 * A process in the sandbox this client receives output of: write to its input, signal it, resize
 * its terminal, or wait for `done`. The process belongs to the agent: closing the client leaves it
 * running, and {@link AgentClient.attach} picks it up again.
 */
export class AgentProcess {
  /** Resolves with how the process ended, after every output callback has run. Rejects with
   * {@link AgentConnectionError} if the connection is lost first (the process may still run). */
  readonly done: Promise<ExecResult>;

  constructor(
    private readonly client: AgentClient,
    private readonly stream: ProcessStream,
    /** The process id in the protocol. */
    readonly processId: string,
    /** Its pid inside the sandbox. */
    readonly pid: number,
  ) {
    this.done = stream.exit.promise;
  }

  /** Seq of the next output chunk this client expects (for `attach` after a reconnect). */
  get nextSeq(): number {
    return this.stream.nextSeq;
  }

  /** Writes to standard input. */
  write(data: Uint8Array | string): Promise<void> {
    return this.client.stdin(this.processId, data);
  }

  /** Closes standard input. */
  closeStdin(): Promise<void> {
    return this.client.closeStdin(this.processId);
  }

  /** Sends a signal to the process group (PTY: the foreground group). */
  signal(signal: AgentSignal): Promise<void> {
    return this.client.signal(this.processId, signal);
  }

  /** Sends SIGKILL. */
  kill(): Promise<void> {
    return this.client.kill(this.processId);
  }

  /** Resizes the terminal. */
  resize(cols: number, rows: number): Promise<void> {
    return this.client.resize(this.processId, cols, rows);
  }

  /** Stops receiving output; the process keeps running. */
  detach(): Promise<void> {
    return this.client.detach(this.processId);
  }
}

/**
 * The worker's client of one guest agent, over its unix socket (JSON-RPC 2.0, see
 * `spec/agent-protocol.md`). Output is streamed through callbacks with flow control; errors from
 * the agent become {@link AgentError}, a lost connection {@link AgentConnectionError}.
 */
export class AgentClient {
  private readonly streams = new Map<string, ProcessStream>();
  private readonly closeListeners: (() => void)[] = [];
  private closed = false;

  /** File operations inside the sandbox. */
  readonly fs = {
    /** One byte range of a file. */
    read: async (
      path: string,
      range: { offset?: number; length?: number } = {},
    ): Promise<AgentReadChunk> => {
      const r = await this.request(AGENT_METHODS.fsRead, { path, ...range });
      return { ...r, data: Buffer.from(r.data, "base64") };
    },
    /** A whole file, read in chunks; fails beyond `maxBytes` (default 256 MiB). */
    readFile: async (path: string, maxBytes = 256 * 1024 * 1024): Promise<Buffer> => {
      const parts: Buffer[] = [];
      let offset = 0;
      for (;;) {
        const r = await this.fs.read(path, { offset });
        parts.push(r.data);
        offset += r.bytesRead;
        if (offset > maxBytes) {
          throw new AgentError(-32602, `${path} is larger than ${maxBytes} bytes`, { path });
        }
        if (r.eof || r.bytesRead === 0) break;
      }
      return Buffer.concat(parts);
    },
    /** Writes a file (any size: sent in chunks), creating parents unless told not to. */
    write: async (
      path: string,
      data: Uint8Array | string,
      options: Omit<FsWriteParams, "path" | "data"> = {},
    ): Promise<{ bytesWritten: number; size: number }> => {
      const buf = toBuffer(data);
      let written = 0;
      let size = 0;
      do {
        const chunk = buf.subarray(written, written + MAX_WRITE_CHUNK_BYTES);
        const r = await this.request(AGENT_METHODS.fsWrite, {
          ...options,
          path,
          data: chunk.toString("base64"),
          append: written === 0 ? options.append : true,
        });
        written += r.bytesWritten;
        size = r.size;
      } while (written < buf.length);
      return { bytesWritten: written, size };
    },
    /** Directory entries, sorted by name. */
    list: async (path: string): Promise<AgentDirEntry[]> =>
      (await this.request(AGENT_METHODS.fsList, { path })).entries,
    /** Metadata of a path (links not followed). */
    stat: (path: string): Promise<AgentFileStat> => this.request(AGENT_METHODS.fsStat, { path }),
    /** Removes a path; `recursive` for trees, `force` to accept a missing path. */
    remove: async (path: string, options: Omit<FsRemoveParams, "path"> = {}): Promise<boolean> =>
      (await this.request(AGENT_METHODS.fsRemove, { path, ...options })).removed,
    /** Creates a directory (with parents unless `parents: false`). */
    mkdir: async (path: string, options: Omit<FsMkdirParams, "path"> = {}): Promise<boolean> =>
      (await this.request(AGENT_METHODS.fsMkdir, { path, ...options })).created,
  };

  private readonly connection: MessageConnection;

  private constructor(
    private readonly socket: net.Socket,
    private readonly requestTimeoutMs: number,
  ) {
    // Output comes as binary frames (asked for on every exec.start and exec.attach), read beside
    // the JSON-RPC messages; exec.output notifications still work, for agents without frames.
    const connection = createMessageConnection(
      new AgentFrameReader(socket, (f) => this.onOutputFrame(f)),
      new SocketMessageWriter(socket),
    );
    this.connection = connection;
    connection.onNotification(AGENT_NOTIFICATIONS.execOutput, (raw: unknown) => {
      const n = execOutputNotificationSchema.safeParse(raw);
      if (!n.success) return;
      const s = this.streams.get(n.data.processId);
      if (s === undefined) return;
      s.output(n.data.stream, n.data.seq, Buffer.from(n.data.data, "base64"));
    });
    connection.onNotification(AGENT_NOTIFICATIONS.execExit, (raw: unknown) => {
      const n = execExitNotificationSchema.safeParse(raw);
      if (!n.success) return;
      const s = this.streams.get(n.data.processId);
      if (s === undefined) return;
      this.streams.delete(n.data.processId);
      const { processId: _id, ...info } = n.data;
      s.exited(info);
    });
    connection.onClose(() => this.onClosed());
    socket.on("close", () => this.onClosed());
    socket.on("error", () => {
      // Reported through close.
    });
    connection.listen();
  }

  private onOutputFrame(f: OutputFrame): void {
    this.streams.get(f.processId)?.output(f.stream, f.seq, f.data);
  }

  /** Connects to the agent listening on `socketPath`. */
  static async connect(socketPath: string, options: AgentClientOptions = {}): Promise<AgentClient> {
    const timeoutMs = options.timeoutMs ?? 5000;
    let pinned: PinnedSocket;
    try {
      pinned = await pinAgentSocket(socketPath);
    } catch (err) {
      if (err instanceof AgentSocketRefusedError) throw err;
      throw new AgentConnectionError(
        `cannot connect to the agent at ${socketPath}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const socket = net.createConnection(pinned.connectPath);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new AgentTimeoutError(`connecting to the agent at ${socketPath} timed out`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(
          new AgentConnectionError(`cannot connect to the agent at ${socketPath}: ${err.message}`, {
            cause: err,
          }),
        );
      });
    }).finally(() => pinned.release());
    const client = new AgentClient(socket, options.requestTimeoutMs ?? 60_000);
    if (options.token !== undefined) {
      try {
        await client.authenticate(options.token, socketPath, timeoutMs);
      } catch (err) {
        client.close();
        throw err;
      }
    }
    return client;
  }

  /** Has the agent prove it holds `token`; {@link AgentAuthError} if it cannot. */
  private async authenticate(token: string, socketPath: string, timeoutMs: number): Promise<void> {
    const nonce = randomBytes(32).toString("hex");
    let proof: string | null;
    try {
      proof = (await this.request(AGENT_METHODS.auth, { nonce }, timeoutMs)).proof;
    } catch (err) {
      // An agent without the method, or a server that does not speak the protocol: not ours.
      if (!(err instanceof AgentError)) throw err;
      proof = null;
    }
    if (!isAgentProof(token, nonce, proof)) {
      throw new AgentAuthError(
        `refusing the agent at ${socketPath}: it cannot prove it is this sandbox's agent (its socket may have been replaced from inside the sandbox)`,
      );
    }
  }

  /** Whether the connection is closed. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Calls `listener` once when the connection closes. */
  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    const err = new AgentConnectionError(
      "connection to the agent was lost; the process may still run (attach to it again)",
    );
    for (const s of this.streams.values()) s.lost(err);
    this.streams.clear();
    this.connection.dispose();
    this.socket.destroy();
    for (const l of this.closeListeners.splice(0)) l();
  }

  /** Closes the connection. Processes in the sandbox keep running. */
  close(): void {
    this.onClosed();
  }

  /** Sends one request, with a time limit, mapping errors to typed ones. */
  async request<M extends AgentMethodName>(
    method: M,
    params: AgentMethodParams<M>,
    timeoutMs: number = this.requestTimeoutMs,
  ): Promise<AgentMethodResult<M>> {
    if (this.closed) throw new AgentConnectionError("connection to the agent is closed");
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.connection.sendRequest<AgentMethodResult<M>>(method, params),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(new AgentTimeoutError(`agent did not answer ${method} in ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      if (err instanceof AgentTimeoutError) throw err;
      if (err instanceof ResponseError && !TRANSPORT_CODES.has(err.code)) {
        throw new AgentError(err.code, err.message, err.data);
      }
      throw new AgentConnectionError(
        `connection to the agent failed during ${method}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  private sendAck(processId: string, bytes: number): void {
    if (this.closed) return;
    this.connection
      .sendNotification(AGENT_CLIENT_NOTIFICATIONS.execAck, { processId, bytes })
      .catch(() => {});
  }

  private track(
    processId: string,
    handlers: ExecOutputHandlers,
    window: number = DEFAULT_OUTPUT_WINDOW_BYTES,
  ): ProcessStream {
    const s = new ProcessStream(
      processId,
      handlers,
      (bytes) => this.sendAck(processId, bytes),
      Math.max(1, Math.floor(window / 4)),
    );
    this.streams.set(processId, s);
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
    const stream = this.track(processId, options, options.window);
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
      this.streams.delete(processId);
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
    const stream = this.track(processId, handlers, options.window);
    try {
      const r = await this.request(AGENT_METHODS.execAttach, {
        processId,
        ...options,
        outputEncoding: "binary",
      });
      return { process: new AgentProcess(this, stream, processId, r.process.pid), attach: r };
    } catch (err) {
      this.streams.delete(processId);
      throw err;
    }
  }

  /** Stops receiving a process's output; it keeps running. */
  async detach(processId: string): Promise<void> {
    await this.request(AGENT_METHODS.execDetach, { processId });
    this.streams.delete(processId);
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
      timeoutMs + this.requestTimeoutMs,
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

/**
 * Connects to the agent at `socketPath` once it is up: retries connect + `agent.health` until
 * both work or `timeoutMs` has passed (a sandbox is booting and the socket may not exist yet).
 *
 * It watches the socket's directory (inotify): the agent's `listen()` creates the socket file and
 * then sets its mode, and each of those wakes the next attempt at once, instead of on the next
 * tick of a poll that would have to be very fine to be as quick. Polling stays as the safety net,
 * for a directory that cannot be watched (or does not exist yet) and for events that are missed.
 */
export async function waitForAgent(
  socketPath: string,
  timeoutMs: number,
  options: AgentClientOptions & { intervalMs?: number } = {},
): Promise<AgentClient> {
  const deadline = Date.now() + timeoutMs;
  const name = path.basename(socketPath);
  let woken = false;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.dirname(socketPath), { persistent: false }, (_event, file) => {
      if (file !== null && file !== name) return;
      woken = true;
      wake?.();
    });
    watcher.on("error", () => {
      watcher?.close();
      watcher = undefined;
    });
  } catch {
    // ENOENT or no inotify: poll only.
  }
  // With the watch, polls only catch what it misses, so they can start slower; without it, a
  // failed connect to a missing socket costs microseconds, so poll finely.
  let delay = options.intervalMs ?? (watcher === undefined ? 10 : 25);
  let lastError: unknown;
  try {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      woken = false;
      let client: AgentClient | undefined;
      try {
        client = await AgentClient.connect(socketPath, {
          ...options,
          timeoutMs: Math.min(left, options.timeoutMs ?? 5000),
        });
        // With a token, connect's authentication already proved the agent answers.
        if (options.token === undefined) {
          await client.request(
            AGENT_METHODS.health,
            {},
            Math.max(1, Math.min(deadline - Date.now(), 5000)),
          );
        }
        return client;
      } catch (err) {
        client?.close();
        // Not the agent's socket, or not this sandbox's agent: retrying would only wait for the
        // sandbox to put things right.
        if (err instanceof AgentSocketRefusedError || err instanceof AgentAuthError) throw err;
        lastError = err;
      }
      if (woken) {
        // Something changed while connecting (the socket appeared, or its mode was set once the
        // agent listened): try again at once, but let the agent's event loop run first.
        await new Promise((r) => setImmediate(r));
        continue;
      }
      const wait = Math.min(delay, Math.max(0, deadline - Date.now()));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      delay = Math.min(Math.ceil(delay * 1.5), 250);
    }
  } finally {
    watcher?.close();
  }
  throw new AgentTimeoutError(
    `agent at ${socketPath} not ready after ${timeoutMs} ms${lastError instanceof Error ? `: ${lastError.message}` : ""}`,
    { cause: lastError },
  );
}
