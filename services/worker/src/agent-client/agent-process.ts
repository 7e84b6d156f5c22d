import type { AgentSignal, ExecExitInfo, ExecStartParams } from "@aetherium/types";

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

/** Options of `AgentClient.exec` and `AgentClient.startProcess`. */
export interface ExecOptions extends ExecOutputHandlers {
  /** Aborting kills the process (SIGKILL to its group); the result still reports how it ended. */
  signal?: AbortSignal;
  /** Flow-control window in bytes (`DEFAULT_OUTPUT_WINDOW_BYTES`). */
  window?: number;
}

/** How a process ended: exit code, signal, duration, whether its timeout fired. */
export type ExecResult = ExecExitInfo;

/** What a process handle asks of the client it came from. */
export interface ProcessControl {
  stdin(processId: string, data: Uint8Array | string): Promise<void>;
  closeStdin(processId: string): Promise<void>;
  signal(processId: string, signal: AgentSignal): Promise<void>;
  kill(processId: string): Promise<void>;
  resize(processId: string, cols: number, rows: number): Promise<void>;
  detach(processId: string): Promise<void>;
}

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

/** Client-side state of one process a connection receives output of, with its flow control. */
export class ProcessStream {
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
 * running, and `AgentClient.attach` picks it up again.
 */
export class AgentProcess {
  /** Resolves with how the process ended, after every output callback has run. Rejects with
   * `AgentConnectionError` if the connection is lost first (the process may still run). */
  readonly done: Promise<ExecResult>;

  constructor(
    private readonly client: ProcessControl,
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
