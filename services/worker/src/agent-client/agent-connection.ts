import { randomBytes } from "node:crypto";
import net from "node:net";
import {
  AGENT_METHODS,
  type AgentMethodName,
  type AgentMethodParams,
  type AgentMethodResult,
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

/** Options of `AgentClient.connect`. */
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
  /**
   * Runs on the connected socket before any JSON-RPC byte: a transport's own preamble (a
   * serial port's sync line, a vsock proxy's `CONNECT`). It must leave the bytes after its
   * preamble readable on the socket (`socket.unshift`).
   */
  handshake?: (socket: net.Socket, timeoutMs: number) => Promise<void>;
}

// Error codes vscode-jsonrpc itself uses when a connection fails (not sent by the agent).
const TRANSPORT_CODES = new Set([-32099, -32098, -32097, -32096]);

/**
 * One JSON-RPC 2.0 connection to a guest agent over its unix socket: the pinned connect, the
 * token handshake, requests with a time limit and typed errors, notifications and the binary
 * output frames read beside the messages.
 */
export class AgentConnection {
  readonly #socket: net.Socket;
  readonly #rpc: MessageConnection;
  readonly #closeListeners: (() => void)[] = [];
  #closed = false;
  #onFrame: ((frame: OutputFrame) => void) | undefined;

  private constructor(
    socket: net.Socket,
    /** The default time limit of a request. */
    readonly requestTimeoutMs: number,
  ) {
    this.#socket = socket;
    // Output comes as binary frames (asked for on every exec.start and exec.attach), read beside
    // the JSON-RPC messages; exec.output notifications still work, for agents without frames.
    this.#rpc = createMessageConnection(
      new AgentFrameReader(socket, (f) => this.#onFrame?.(f)),
      new SocketMessageWriter(socket),
    );
    this.#rpc.onClose(() => this.#onClosed());
    socket.on("close", () => this.#onClosed());
    socket.on("error", () => {
      // Reported through close.
    });
    this.#rpc.listen();
  }

  /**
   * Connects to the agent listening on `socketPath` and, with a token, has it prove it holds
   * it before anything else is sent.
   */
  static async open(
    socketPath: string,
    options: AgentClientOptions = {},
  ): Promise<AgentConnection> {
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
    if (options.handshake !== undefined) {
      try {
        await options.handshake(socket, timeoutMs);
      } catch (err) {
        socket.destroy();
        throw err;
      }
    }
    const connection = new AgentConnection(socket, options.requestTimeoutMs ?? 60_000);
    if (options.token !== undefined) {
      try {
        await connection.#authenticate(options.token, socketPath, timeoutMs);
      } catch (err) {
        connection.close();
        throw err;
      }
    }
    return connection;
  }

  /** Has the agent prove it holds `token`; {@link AgentAuthError} if it cannot. */
  async #authenticate(token: string, socketPath: string, timeoutMs: number): Promise<void> {
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
    return this.#closed;
  }

  /** Calls `listener` once when the connection closes (at once if it is closed). */
  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#closeListeners.push(listener);
  }

  /** Receives the binary output frames. */
  onFrame(listener: (frame: OutputFrame) => void): void {
    this.#onFrame = listener;
  }

  /** Receives the agent's notifications of `method`. */
  onNotification(method: string, handler: (params: unknown) => void): void {
    this.#rpc.onNotification(method, handler);
  }

  /** Sends a notification; nothing when closed, and a failed send is dropped with the connection. */
  notify(method: string, params: object): void {
    if (this.#closed) return;
    this.#rpc.sendNotification(method, params).catch(() => {});
  }

  /** Sends one request, with a time limit, mapping errors to typed ones. */
  async request<M extends AgentMethodName>(
    method: M,
    params: AgentMethodParams<M>,
    timeoutMs: number = this.requestTimeoutMs,
  ): Promise<AgentMethodResult<M>> {
    if (this.#closed) throw new AgentConnectionError("connection to the agent is closed");
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.#rpc.sendRequest<AgentMethodResult<M>>(method, params),
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

  /** Closes the connection. */
  close(): void {
    this.#onClosed();
  }

  #onClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rpc.dispose();
    this.#socket.destroy();
    for (const l of this.#closeListeners.splice(0)) l();
  }
}
