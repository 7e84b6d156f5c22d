/**
 * One command over the exec WebSocket (`GET /api/v1/vms/{id}/exec`): start it, stream its output,
 * send keystrokes, resizes and signals. DOM-free: the socket factory is passed in.
 * @module
 */
import type { SocketFactory, SocketLike } from "../live/event-stream.js";
import { base64ToBytes, bytesToBase64, textToBase64 } from "./encoding.js";

export interface ExecStart {
  readonly command: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly pty?: { cols: number; rows: number };
}

export interface ExecHandlers {
  onStarted?(executionId: string): void;
  onStdout?(bytes: Uint8Array): void;
  onStderr?(bytes: Uint8Array): void;
  onExit?(exit: { exitCode: number; signal?: string | null; durationMs?: number }): void;
  /** The server or the connection failed; `code` is an API error code or `closed`. */
  onError?(error: { code: string; message: string }): void;
}

/** The server's exec messages, loosely read (unknown types are ignored). */
export type ExecServerMessage =
  | { type: "started"; executionId: string }
  | { type: "stdout" | "stderr"; data: string }
  | { type: "exit"; exitCode: number; signal?: string | null; durationMs?: number }
  | { type: "error"; code: string; message: string };

/** Routes one server message to its handler; returns true when the command has ended. */
export function dispatchExecMessage(raw: unknown, h: ExecHandlers): boolean {
  if (typeof raw !== "string") return false;
  let m: ExecServerMessage;
  try {
    m = JSON.parse(raw) as ExecServerMessage;
  } catch {
    return false;
  }
  switch (m.type) {
    case "started":
      h.onStarted?.(m.executionId);
      return false;
    case "stdout":
      h.onStdout?.(base64ToBytes(m.data));
      return false;
    case "stderr":
      h.onStderr?.(base64ToBytes(m.data));
      return false;
    case "exit":
      h.onExit?.(m);
      return true;
    case "error":
      h.onError?.({ code: m.code, message: m.message });
      return true;
    default:
      return false;
  }
}

/** A running command. */
export class ExecConnection {
  readonly #socket: SocketLike & { send(data: string): void };
  #ended = false;
  #queue: string[] = [];
  #open = false;

  constructor(
    url: string,
    protocols: string[],
    start: ExecStart,
    handlers: ExecHandlers,
    createSocket: SocketFactory,
  ) {
    this.#socket = createSocket(url, protocols) as SocketLike & { send(data: string): void };
    this.#socket.onopen = () => {
      this.#open = true;
      this.#socket.send(JSON.stringify({ type: "start", ...start }));
      for (const m of this.#queue) this.#socket.send(m);
      this.#queue = [];
    };
    this.#socket.onmessage = (ev) => {
      if (dispatchExecMessage(ev.data, handlers)) this.#ended = true;
    };
    this.#socket.onerror = () => {
      /* close follows */
    };
    this.#socket.onclose = (ev) => {
      if (!this.#ended) {
        this.#ended = true;
        handlers.onError?.({
          code: ev.code === 1008 || ev.code === 4401 ? "unauthorized" : "closed",
          message: ev.reason || `connection closed (code ${ev.code})`,
        });
      }
    };
  }

  get ended(): boolean {
    return this.#ended;
  }

  #send(msg: object): void {
    if (this.#ended) return;
    const text = JSON.stringify(msg);
    if (this.#open) this.#socket.send(text);
    else this.#queue.push(text);
  }

  write(data: string | Uint8Array): void {
    this.#send({
      type: "stdin",
      data: typeof data === "string" ? textToBase64(data) : bytesToBase64(data),
    });
  }
  resize(cols: number, rows: number): void {
    this.#send({ type: "resize", cols, rows });
  }
  signal(signal: "SIGINT" | "SIGTERM" | "SIGKILL" | "SIGHUP"): void {
    this.#send({ type: "signal", signal });
  }
  closeStdin(): void {
    this.#send({ type: "closeStdin" });
  }
  close(): void {
    this.#ended = true;
    this.#socket.onclose = null;
    this.#socket.close(1000, "closed by the dashboard");
  }
}
