import { chmod, lstat, mkdir, unlink } from "node:fs/promises";
import net from "node:net";
import type { Duplex } from "node:stream";
import os from "node:os";
import path from "node:path";
import {
  AGENT_CLIENT_NOTIFICATIONS,
  AGENT_ERROR_CODES,
  AGENT_METHOD_SCHEMAS,
  AGENT_PROTOCOL_VERSION,
  execAckNotificationSchema,
  type AgentMethodName,
  type AgentMethodResult,
  type AgentOutputStream,
} from "@aetherium/types";
import {
  createMessageConnection,
  ResponseError,
  StreamMessageReader,
  type MessageConnection,
} from "vscode-jsonrpc/node";
import type { z } from "zod";
import { fsList, fsMkdir, fsRead, fsRemove, fsStat, fsWrite } from "./fs-ops.js";
import type { AgentLogger } from "./logger.js";
import type { OutputSink } from "./managed-process.js";
import type { ProcessManager } from "./process-manager.js";
import { AgentRpcError } from "./rpc-error.js";
import { agentProof } from "../wire/agent-proof.js";
import { writeOutputFrame } from "../wire/output-frame.js";
import { SocketMessageWriter } from "../wire/socket-message-writer.js";

/** How the agent program started (`agent.info` reports it): from the startup snapshot or not. */
export type AgentStartup = "snapshot" | "script";

/** Settings of the {@link AgentServer}. */
export interface AgentServerOptions {
  socketPath: string;
  /** Permission bits of the socket file: who in the sandbox may drive the agent (root: 0600). */
  socketMode: number;
  version: string;
  /** How the agent started; default `script`. */
  startup?: AgentStartup;
  manager: ProcessManager;
  logger: AgentLogger;
  /**
   * The sandbox's token, proven with `agent.auth` so the worker knows it reached this
   * sandbox's agent and nothing else. Without one the agent answers `proof: null`.
   */
  token?: string;
}

type Params<M extends AgentMethodName> = z.output<(typeof AGENT_METHOD_SCHEMAS)[M]["params"]>;
type Handler<M extends AgentMethodName> = (
  params: Params<M>,
  session: Session,
) => Promise<AgentMethodResult<M>> | AgentMethodResult<M>;
type Handlers = { [M in AgentMethodName]: Handler<M> };

/** One client connection: a JSON-RPC connection and the output sink of its processes. */
class Session implements OutputSink {
  constructor(
    readonly id: number,
    readonly connection: MessageConnection,
    private readonly socket: Duplex,
  ) {}

  output(processId: string, stream: AgentOutputStream, seq: number, data: Buffer): void {
    // Straight to the socket, beside the JSON-RPC writer (which is synchronous too), so the
    // frames and the `exec.exit` after them leave in order.
    writeOutputFrame(this.socket, processId, stream, seq, data);
  }

  notify(method: string, params: object): void {
    try {
      this.connection.sendNotification(method, params).catch(() => {
        // The connection closed; its close handler detaches it.
      });
    } catch {
      // Disposed connection: same as above.
    }
  }
}

/**
 * The agent's unix-socket server: one JSON-RPC 2.0 connection per client (vscode-jsonrpc,
 * Content-Length framing), any number of clients at once. Processes belong to the agent, not to a
 * connection: a client that disconnects leaves its processes running for a later `exec.attach`.
 */
export class AgentServer {
  private readonly opts: AgentServerOptions;
  private readonly sessions = new Map<number, Session>();
  private readonly startedAt = new Date();
  private server: net.Server | undefined;
  private nextId = 1;

  constructor(options: AgentServerOptions) {
    this.opts = options;
  }

  /** Creates the socket (replacing a stale one) and starts accepting clients. */
  async listen(): Promise<void> {
    const { socketPath } = this.opts;
    await mkdir(path.dirname(socketPath), { recursive: true });
    // A socket left by a previous agent (a restarted container) blocks bind(); a regular file there
    // is someone else's and is left alone.
    const existing = await lstat(socketPath).catch(() => undefined);
    if (existing?.isSocket() === true) await unlink(socketPath);
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (err) => this.opts.logger.error("server error", { error: err.message }));
    await chmod(socketPath, this.opts.socketMode);
  }

  /** Stops accepting clients and closes every connection. */
  async close(): Promise<void> {
    for (const s of this.sessions.values()) s.connection.dispose();
    const server = this.server;
    if (server === undefined) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Serves one client on an already connected byte stream: what a unix-socket client gets,
   * for transports that are not sockets (a virtio-serial port, one session at a time).
   */
  serve(stream: Duplex): void {
    this.accept(stream);
  }

  private accept(socket: Duplex): void {
    const id = this.nextId++;
    const connection = createMessageConnection(
      new StreamMessageReader(socket),
      new SocketMessageWriter(socket),
    );
    const session = new Session(id, connection, socket);
    this.sessions.set(id, session);
    const { logger, manager } = this.opts;
    logger.debug("client connected", { connection: id });
    socket.on("error", () => {
      // ECONNRESET from a client that went away: the close below handles it.
    });
    let closed = false;
    const onClose = (): void => {
      if (closed) return;
      closed = true;
      this.sessions.delete(id);
      manager.detachAll(id);
      connection.dispose();
      logger.debug("client disconnected", { connection: id });
    };
    connection.onClose(onClose);
    socket.on("close", onClose);

    const handlers = this.handlers();
    for (const method of Object.keys(AGENT_METHOD_SCHEMAS) as AgentMethodName[]) {
      this.register(connection, session, method, handlers[method]);
    }
    connection.onNotification(AGENT_CLIENT_NOTIFICATIONS.execAck, (raw: unknown) => {
      const parsed = execAckNotificationSchema.safeParse(raw);
      if (!parsed.success) return;
      const p = manager.find(parsed.data.processId);
      p?.ack(id, parsed.data.bytes);
    });
    connection.onUnhandledNotification(() => {
      // Unknown notifications are ignored, as JSON-RPC says.
    });
    connection.listen();
  }

  private register<M extends AgentMethodName>(
    connection: MessageConnection,
    session: Session,
    method: M,
    handler: Handler<M>,
  ): void {
    // One generic loop over all methods: the schema is indexed by `method`, so its output type is
    // only known to be Params<M> through this cast.
    const schema: z.ZodType = AGENT_METHOD_SCHEMAS[method].params;
    connection.onRequest(method, async (raw: unknown) => {
      const parsed = schema.safeParse(raw ?? {});
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => ({
          path: i.path.map(String).join("."),
          message: i.message,
        }));
        throw new ResponseError(
          AGENT_ERROR_CODES.invalidParams,
          `invalid params for ${method}: ${issues.map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`)).join("; ")}`,
          { issues },
        );
      }
      try {
        return await handler(parsed.data as Params<M>, session);
      } catch (err) {
        if (err instanceof AgentRpcError) throw new ResponseError(err.code, err.message, err.data);
        // Only the method and message are logged: params may hold secrets or file contents.
        const message = err instanceof Error ? err.message : String(err);
        this.opts.logger.error("request failed", { method, error: message });
        throw new ResponseError(AGENT_ERROR_CODES.internalError, `internal error: ${message}`);
      }
    });
  }

  private handlers(): Handlers {
    const { manager, version } = this.opts;
    return {
      "agent.info": () => ({
        version,
        protocolVersion: AGENT_PROTOCOL_VERSION,
        pid: process.pid,
        uptimeMs: Date.now() - this.startedAt.getTime(),
        startedAt: this.startedAt.toISOString(),
        nodeVersion: process.versions.node,
        hostname: os.hostname(),
        uid: process.getuid?.() ?? -1,
        // As PID 1 nobody reaps orphans (Node waits only for its own children); with an init
        // such as tini (`docker run --init`) above the agent, that init does.
        reaper: process.pid === 1 ? "none" : "init",
        startup: this.opts.startup ?? "script",
      }),
      "agent.auth": (p) => ({
        proof: this.opts.token === undefined ? null : agentProof(this.opts.token, p.nonce),
      }),
      "agent.health": () => ({
        status: "ok",
        runningProcesses: manager.runningCount(),
        connections: this.sessions.size,
        rssBytes: process.memoryUsage.rss(),
      }),
      "exec.start": (p, s) => manager.start(p, s),
      "exec.stdin": async (p) => {
        await manager.get(p.processId).writeStdin(Buffer.from(p.data, "base64"));
        return {};
      },
      "exec.closeStdin": (p) => {
        manager.get(p.processId).closeStdin();
        return {};
      },
      "exec.signal": (p) => {
        manager.get(p.processId).signal(p.signal);
        return {};
      },
      "exec.resize": async (p) => {
        await manager.get(p.processId).resize({ cols: p.cols, rows: p.rows });
        return {};
      },
      "exec.list": () => ({ processes: manager.list() }),
      "exec.attach": (p, s) =>
        manager.attach(p.processId, s, p.fromSeq, p.window, p.outputEncoding),
      "exec.detach": (p, s) => {
        manager.get(p.processId).detach(s.id);
        return {};
      },
      "exec.wait": async (p) => {
        const proc = manager.get(p.processId);
        await proc.waitExit(p.timeoutMs ?? 300_000);
        return { process: proc.info() };
      },
      "fs.read": (p) => fsRead(p),
      "fs.write": (p) => fsWrite(p),
      "fs.list": (p) => fsList(p),
      "fs.stat": (p) => fsStat(p),
      "fs.remove": (p) => fsRemove(p),
      "fs.mkdir": (p) => fsMkdir(p),
      "secrets.set": (p) => ({ count: manager.setSecrets(p.secrets, p.replace === true) }),
    };
  }
}
