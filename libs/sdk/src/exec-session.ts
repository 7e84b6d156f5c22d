/**
 * One command over the exec WebSocket (`GET /api/v1/vms/{id}/exec`): live output, stdin, signals,
 * terminal resize.
 * @module
 */
import {
  execServerMessageSchema,
  type ExecClientMessage,
  type ExecSignal,
  type PtySize,
} from "@aetherium/types";
import { base64Decode, base64Encode, toBytes } from "./base64.js";
import { AbortError, NetworkError, errorFromCode, type AetheriumApiError } from "./errors.js";
import { checkShape, seg, type Transport } from "./transport.js";
import { WS_OPEN, type WebSocketLike } from "./websocket.js";

/** Receives a chunk of output: raw bytes, exactly as the command wrote them. */
export type OutputListener = (chunk: Uint8Array) => void;

/** How a command run over the WebSocket ended. */
export interface ExecExit {
  /** The command's exit code (`128 + n` when killed by signal n). */
  readonly exitCode: number;
  /** The signal that killed it, if one did. */
  readonly signal: string | null;
  /** True when the exec's `timeoutMs` ran out and the command was killed. */
  readonly timedOut: boolean;
  /** How long it ran, as the worker measured it; null if the gateway did not say. */
  readonly durationMs: number | null;
  /** Id of its execution record (`GET /executions/{id}`). */
  readonly executionId: string;
}

/** What to run and how, for {@link ExecSession.open}. */
export interface ExecSessionOptions {
  /** Arguments: with `args` (even `[]`) the command runs directly, without `/bin/sh -c`. */
  readonly args?: readonly string[];
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory (absolute). */
  readonly cwd?: string;
  /** User name or uid to run as. */
  readonly user?: string;
  /** Kill the command after this many ms (the server enforces it). */
  readonly timeoutMs?: number;
  /** Run under a terminal of this size; stdout and stderr then merge into stdout. */
  readonly pty?: PtySize;
  /** Written to stdin at once, which is then closed. */
  readonly stdin?: string | Uint8Array;
  /** Receives stdout chunks from the first byte. */
  readonly onStdout?: OutputListener;
  /** Receives stderr chunks from the first byte. */
  readonly onStderr?: OutputListener;
  /** Aborting kills the command (SIGKILL) and rejects {@link ExecSession.wait} with `AbortError`. */
  readonly signal?: AbortSignal;
}

/**
 * A command running in a sandbox, driven over the exec WebSocket. Output arrives through
 * {@link ExecSession.onStdout} / {@link ExecSession.onStderr} / {@link ExecSession.onData}
 * listeners (attach them through the options to miss nothing); {@link ExecSession.wait} resolves
 * with the exit. Input written before the server confirms the start is queued, in order.
 */
export class ExecSession {
  readonly #socket: WebSocketLike;
  readonly #stdout = new Set<OutputListener>();
  readonly #stderr = new Set<OutputListener>();
  readonly #pending: ExecClientMessage[] = [];
  readonly #exit: Promise<ExecExit>;
  readonly #started: Promise<string>;
  #resolveExit!: (exit: ExecExit) => void;
  #rejectExit!: (err: AetheriumApiError) => void;
  #resolveStarted!: (id: string) => void;
  #rejectStarted!: (err: AetheriumApiError) => void;
  #executionId: string | undefined;
  #done = false;

  private constructor(socket: WebSocketLike, options: ExecSessionOptions) {
    this.#socket = socket;
    this.#exit = new Promise<ExecExit>((resolve, reject) => {
      this.#resolveExit = resolve;
      this.#rejectExit = reject;
    });
    this.#started = new Promise<string>((resolve, reject) => {
      this.#resolveStarted = resolve;
      this.#rejectStarted = reject;
    });
    // Callers that only use callbacks never look at these promises; don't let that be "unhandled".
    this.#exit.catch(() => undefined);
    this.#started.catch(() => undefined);
    if (options.onStdout) this.#stdout.add(options.onStdout);
    if (options.onStderr) this.#stderr.add(options.onStderr);
    socket.addEventListener("message", (event) => this.#onMessage(event.data));
    socket.addEventListener("close", (event) =>
      this.#fail(
        new NetworkError(
          `exec stream closed before the command exited (code ${event.code ?? "?"})`,
          "network",
          0,
        ),
      ),
    );
    socket.addEventListener("error", (event) =>
      this.#fail(new NetworkError(`exec stream failed: ${event.message ?? "error"}`, "network", 0)),
    );
  }

  /**
   * Opens the exec WebSocket of sandbox `vmId` and starts `command`. Resolves once the socket is
   * open and the start message sent; the command's own failures arrive through {@link wait}.
   */
  static async open(
    transport: Transport,
    vmId: string,
    command: string,
    options: ExecSessionOptions = {},
  ): Promise<ExecSession> {
    if (options.signal?.aborted) throw new AbortError();
    const socket = await transport.openSocket(
      `/vms/${seg(vmId)}/exec`,
      options.signal,
      `/vms/${seg(vmId)}`,
    );
    const session = new ExecSession(socket, options);
    const start: ExecClientMessage = {
      type: "start",
      command,
      ...(options.args !== undefined && { args: [...options.args] }),
      ...(options.env !== undefined && { env: { ...options.env } }),
      ...(options.cwd !== undefined && { cwd: options.cwd }),
      ...(options.user !== undefined && { user: options.user }),
      ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      ...(options.pty !== undefined && { pty: options.pty }),
    };
    socket.send(JSON.stringify(start));
    if (options.stdin !== undefined) {
      session.write(options.stdin);
      session.closeStdin();
    }
    options.signal?.addEventListener(
      "abort",
      () => {
        session.#raw({ type: "signal", signal: "SIGKILL" });
        session.#fail(new AbortError());
      },
      { once: true },
    );
    return session;
  }

  /** Id of the execution record, once the server has confirmed the start. */
  get executionId(): string | undefined {
    return this.#executionId;
  }

  /** Resolves with the execution id once the command has started; rejects if it never does. */
  started(): Promise<string> {
    return this.#started;
  }

  /** Adds a stdout listener; returns a function that removes it. */
  onStdout(listener: OutputListener): () => void {
    this.#stdout.add(listener);
    return () => this.#stdout.delete(listener);
  }

  /** Adds a stderr listener; returns a function that removes it. */
  onStderr(listener: OutputListener): () => void {
    this.#stderr.add(listener);
    return () => this.#stderr.delete(listener);
  }

  /** Adds one listener for both streams (a terminal's output is all stdout); returns its remover. */
  onData(listener: OutputListener): () => void {
    const a = this.onStdout(listener);
    const b = this.onStderr(listener);
    return () => {
      a();
      b();
    };
  }

  /** Writes to the command's stdin (a string is sent as UTF-8). */
  write(data: string | Uint8Array): void {
    this.#send({ type: "stdin", data: base64Encode(toBytes(data)) });
  }

  /** Closes the command's stdin (end of file). */
  closeStdin(): void {
    this.#send({ type: "closeStdin" });
  }

  /** Sends a signal to the command. */
  signal(name: ExecSignal): void {
    this.#send({ type: "signal", signal: name });
  }

  /** Resizes the terminal (sessions opened with `pty` only). */
  resize(cols: number, rows: number): void {
    this.#send({ type: "resize", cols, rows });
  }

  /**
   * Resolves with the exit once the command ends; rejects with the SDK error for a server `error`
   * message (sandbox gone, bad request…) or a dropped stream.
   */
  wait(): Promise<ExecExit> {
    return this.#exit;
  }

  /** Closes the socket without waiting; a command still running is left to the server's handling. */
  close(): void {
    this.#fail(new AbortError("the exec session was closed"));
  }

  #send(message: ExecClientMessage): void {
    if (this.#done) return;
    if (this.#executionId === undefined) this.#pending.push(message);
    else this.#raw(message);
  }

  #raw(message: ExecClientMessage): void {
    if (this.#socket.readyState === WS_OPEN) this.#socket.send(JSON.stringify(message));
  }

  #onMessage(data: unknown): void {
    if (this.#done) return;
    let message;
    try {
      const raw: unknown = typeof data === "string" ? JSON.parse(data) : data;
      message = checkShape(execServerMessageSchema, raw, "the exec stream");
    } catch (err) {
      this.#fail(
        err instanceof Error && "code" in err
          ? (err as AetheriumApiError)
          : errorFromCode("contract", `exec stream sent a message that is not JSON`, 0),
      );
      return;
    }
    switch (message.type) {
      case "started": {
        this.#executionId = message.executionId;
        this.#resolveStarted(message.executionId);
        for (const queued of this.#pending.splice(0)) this.#raw(queued);
        return;
      }
      case "stdout":
      case "stderr": {
        const chunk = base64Decode(message.data);
        for (const listener of message.type === "stdout" ? this.#stdout : this.#stderr) {
          listener(chunk);
        }
        return;
      }
      case "exit": {
        this.#done = true;
        this.#resolveExit({
          exitCode: message.exitCode,
          signal: message.signal ?? null,
          timedOut: message.timedOut ?? false,
          durationMs: message.durationMs ?? null,
          executionId: this.#executionId ?? "",
        });
        this.#closeSocket();
        return;
      }
      case "error": {
        this.#fail(errorFromCode(message.code, message.message, 0));
        return;
      }
    }
  }

  #fail(err: AetheriumApiError): void {
    if (this.#done) return;
    this.#done = true;
    this.#rejectExit(err);
    this.#rejectStarted(err);
    this.#closeSocket();
  }

  #closeSocket(): void {
    try {
      this.#socket.close(1000);
    } catch {
      // already closing
    }
  }
}
