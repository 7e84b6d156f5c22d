import { createHash, timingSafeEqual } from "node:crypto";
import { Readable } from "node:stream";
import {
  BadRequestError,
  PayloadTooLargeError,
  UnauthorizedError,
  type Logger,
} from "@aetherium/common";
import { BufferWatermark, DEFAULT_MAX_BUFFERED_BYTES, toExecution } from "@aetherium/core";
import {
  executeBodySchema,
  filePathQuerySchema,
  heldProcessControlBodySchema,
  fileRemoveQuerySchema,
  fileWriteQuerySchema,
  vmIdSchema,
  type ExecuteResponse,
  type FileEntry,
  type FileListResponse,
  type FileWriteResponse,
  type HeldProcessInfo,
  type VmMetrics,
} from "@aetherium/types";
import type {
  FastifyBaseLogger,
  FastifyInstance,
  onRequestHookHandler,
  preHandlerAsyncHookHandler,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { WebSocket } from "ws";
import { z } from "zod";
import type { AgentClient, AgentReadChunk } from "../agent-client/agent-client.js";
import type { SandboxManager } from "../sandbox/sandbox-manager.js";
import type { SandboxManagers } from "../sandbox/sandbox-managers.js";
import { runExecSession } from "./exec-session.js";
import { HeldProcesses } from "./held-processes.js";
import { sampleSandboxMetrics } from "../sandbox/sandbox-metrics.js";

/** Prefix of every data-plane route on the worker's internal port. */
export const DATA_PLANE_PREFIX = "/internal/v1";

/** Bytes of one `fs.read` / `fs.write` the file routes exchange with the agent. */
export const FILE_CHUNK_BYTES = 1024 * 1024;

/** Largest execute body accepted by default: 10 MiB of stdin plus the command. */
export const DEFAULT_MAX_EXECUTE_BODY_BYTES = 12 * 1024 * 1024;

/** Options of {@link DataPlane}. */
export interface DataPlaneOptions {
  /** The worker's sandboxes, one manager per backend; with none ready every route answers 503. */
  readonly managers: SandboxManagers;
  /** The bearer token every request must carry (the one registered in the `workers` row). */
  readonly token: string;
  readonly logger: Logger;
  /** Unsent bytes an exec socket may hold before output is held back (default 1 MiB). */
  readonly maxBufferedBytes?: number;
  /** Largest execute body accepted (default {@link DEFAULT_MAX_EXECUTE_BODY_BYTES}). */
  readonly maxExecuteBodyBytes?: number;
  /** Largest file one upload may write (default 1 GiB); more is a 413 and the file is removed. */
  readonly maxUploadBytes?: number;
}

/** What the data plane is doing, for tests and diagnostics. */
export interface DataPlaneStats {
  /** Exec WebSockets open now. */
  readonly execSessions: number;
  /** The highest `bufferedAmount` any exec socket reached: bounded however slow the client. */
  readonly maxBufferedBytes: number;
}

/** The app with zod schemas typing its routes. */
type Api = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

const params = z.object({ id: vmIdSchema });

const EXEC_ROUTE = `${DATA_PLANE_PREFIX}/vms/:id/exec`;
const PROCESS_STREAM_ROUTE = `${DATA_PLANE_PREFIX}/vms/:id/processes/stream`;

/**
 * The routes of the internal port that take an upgrade: the exec WebSocket and the held
 * processes' stream (see {@link HeldProcesses}).
 */
export const WEBSOCKET_ROUTES: readonly string[] = [EXEC_ROUTE, PROCESS_STREAM_ROUTE];

/**
 * The worker's data plane, served on its internal port beside `/healthz` and `/metrics`: the
 * routes a gateway calls on the worker that owns a sandbox.
 *
 * - `POST /internal/v1/vms/:id/execute` (spec/api.md execute body) → `{execution}`, recorded;
 * - `GET|PUT|DELETE /internal/v1/vms/:id/files?path=` (file bytes streamed in chunks both
 *   ways; `PUT ?mode=` octal; `DELETE ?recursive=`) and `GET …/files/list?path=`;
 * - WebSocket `GET /internal/v1/vms/:id/exec`, the public exec protocol unchanged;
 * - held processes, which outlive the stream that started them and are reached by pid or tag
 *   from any gateway: WebSocket `GET …/processes/stream` (start or attach), `GET …/processes`
 *   and `POST …/processes/control` (see {@link HeldProcesses});
 * - `GET /internal/v1/vms/:id/metrics`: one sample of the sandbox's CPU, memory and disk use.
 *
 * Every request under {@link DATA_PLANE_PREFIX} carries `Authorization: Bearer <token>`, checked
 * before anything else of it is read; errors are spec/api.md's envelope.
 */
export class DataPlane {
  readonly #options: DataPlaneOptions;
  readonly #tokenDigest: Buffer;
  readonly #sockets = new Set<WebSocket>();
  readonly #sessions = new Set<Promise<void>>();
  readonly #watermark = new BufferWatermark();
  readonly #maxBuffered: number;
  readonly #held: HeldProcesses;
  /** The manager each upgrade's pre-handler found, for its socket handler. */
  readonly #upgrades = new WeakMap<object, SandboxManager>();

  constructor(options: DataPlaneOptions) {
    this.#options = options;
    this.#tokenDigest = digest(options.token);
    this.#maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.#held = new HeldProcesses({
      managers: options.managers,
      logger: options.logger,
      maxBufferedBytes: this.#maxBuffered,
    });
  }

  /** Current sessions and the buffering high-water mark. */
  stats(): DataPlaneStats {
    return { execSessions: this.#sessions.size, maxBufferedBytes: this.#watermark.max };
  }

  /**
   * Adds the routes and the token check to the internal server's app, which has the shared error
   * handling and `@fastify/websocket` registered. The check is a hook of the whole app, keyed on
   * the prefix, so a request for a route that does not exist under it is refused without a token
   * too, before the 404 that would confirm the path.
   */
  async register(app: FastifyInstance): Promise<void> {
    const tokenDigest = this.#tokenDigest;
    const authenticate: onRequestHookHandler = (req, _reply, done) => {
      if (!req.url.startsWith(DATA_PLANE_PREFIX)) {
        done();
        return;
      }
      const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
      if (!match || !timingSafeEqual(digest(match[1]!), tokenDigest)) {
        done(new UnauthorizedError("missing or invalid worker token"));
        return;
      }
      done();
    };
    app.addHook("onRequest", authenticate);

    const api = app.withTypeProvider<ZodTypeProvider>();
    api.post(
      `${DATA_PLANE_PREFIX}/vms/:id/execute`,
      {
        bodyLimit: this.#options.maxExecuteBodyBytes ?? DEFAULT_MAX_EXECUTE_BODY_BYTES,
        schema: { params, body: executeBodySchema },
      },
      async (req, reply): Promise<ExecuteResponse> => {
        const vmId = req.params.id;
        const manager = await this.#manager(vmId);
        // The gateway hanging up (its client gave up) kills the command rather than leave it
        // running.
        const res = reply.raw;
        const aborter = new AbortController();
        const onClose = (): void => {
          if (!res.writableFinished) aborter.abort();
        };
        res.on("close", onClose);
        try {
          // The answer leaves as soon as the agent reports the exit; the row (inserted before
          // the command started) is completed in the background, off the caller's wait.
          const row = await manager.exec(vmId, req.body, {
            signal: aborter.signal,
            deferRecord: true,
          });
          return { execution: toExecution(row) };
        } finally {
          res.off("close", onClose);
        }
      },
    );

    // Refused before the upgrade (unknown, elsewhere, stopped, agent down) so the caller gets a
    // status and an envelope instead of a socket that errors at once.
    // The manager found here is handed to the socket's handler, which must listen at once: a
    // client sends `start` as soon as the socket opens, and a message that comes while the
    // handler still looks the manager up (a query, on a worker with several backends) is lost.
    const runningSandbox: preHandlerAsyncHookHandler = async (req) => {
      if (!req.ws) return;
      const { id } = req.params as { id: string };
      const manager = await this.#manager(id);
      await manager.runningClient(id);
      this.#upgrades.set(req, manager);
    };
    api.route({
      method: "GET",
      url: EXEC_ROUTE,
      schema: { params },
      preHandler: runningSandbox,
      handler: () => {
        throw new BadRequestError("the exec route is a WebSocket: send an upgrade request");
      },
      wsHandler: (socket, req) => this.#serveExec(socket, req.params.id, this.#upgrades.get(req)),
    });
    api.route({
      method: "GET",
      url: PROCESS_STREAM_ROUTE,
      schema: { params },
      preHandler: runningSandbox,
      handler: () => {
        throw new BadRequestError("the process stream is a WebSocket: send an upgrade request");
      },
      wsHandler: (socket, req) => this.#held.serve(socket, req.params.id),
    });
    api.get(
      `${DATA_PLANE_PREFIX}/vms/:id/processes`,
      { schema: { params } },
      async (req): Promise<{ processes: HeldProcessInfo[] }> => {
        await this.#running(req.params.id);
        return { processes: this.#held.list(req.params.id) };
      },
    );
    api.get(
      `${DATA_PLANE_PREFIX}/vms/:id/metrics`,
      { schema: { params } },
      async (req): Promise<{ metrics: VmMetrics }> => {
        const manager = await this.#manager(req.params.id);
        return { metrics: await sampleSandboxMetrics(manager, req.params.id) };
      },
    );
    api.post(
      `${DATA_PLANE_PREFIX}/vms/:id/processes/control`,
      { schema: { params, body: heldProcessControlBodySchema } },
      async (req, reply) => {
        await this.#running(req.params.id);
        await this.#held.control(req.params.id, req.body);
        return reply.status(204).send();
      },
    );

    // Their own scope: the raw-body parser of uploads must not apply to the execute route.
    await app.register((files, _opts, done) => {
      this.#registerFileRoutes(files.withTypeProvider<ZodTypeProvider>());
      done();
    });
  }

  /** Closes every exec socket (their commands are killed) and waits for them to be recorded. */
  async close(): Promise<void> {
    this.#held.close();
    for (const ws of this.#sockets) ws.terminate();
    await Promise.allSettled([...this.#sessions]);
  }

  #serveExec(ws: WebSocket, vmId: string, manager: SandboxManager | undefined): void {
    this.#sockets.add(ws);
    ws.once("close", () => this.#sockets.delete(ws));
    if (!manager) {
      this.#options.logger.error({ vmId }, "exec session without a sandbox manager");
      ws.terminate();
      return;
    }
    const session = runExecSession(ws, {
      manager,
      vmId,
      logger: this.#options.logger,
      maxBufferedBytes: this.#maxBuffered,
      watermark: this.#watermark,
    });
    this.#sessions.add(session);
    void session.finally(() => this.#sessions.delete(session));
  }

  #registerFileRoutes(api: Api): void {
    const maxUpload = this.#options.maxUploadBytes ?? 1024 * 1024 * 1024;
    // An upload is the file's bytes whatever its content type, read as a stream from the request
    // itself: a 1 GiB upload is never held in memory.
    api.removeAllContentTypeParsers();
    api.addContentTypeParser("*", (_req, _payload, done) => done(null, undefined));

    api.get(
      `${DATA_PLANE_PREFIX}/vms/:id/files`,
      { schema: { params, querystring: filePathQuerySchema } },
      async (req, reply) => {
        const { path } = req.query;
        const client = await this.#running(req.params.id);
        // The first chunk is read before anything is sent: a missing file or a directory still
        // gets a proper status and envelope.
        const first = await client.fs.read(path, { offset: 0, length: FILE_CHUNK_BYTES });
        // Regular files announce their length; files whose size says nothing (`/proc`) stream
        // until their end. A file that grows meanwhile is sent as it was when first read.
        const known = first.eof ? first.bytesRead : first.size > 0 ? first.size : null;
        reply.header("content-type", "application/octet-stream");
        if (known !== null) reply.header("content-length", known);
        // Byte-counted, one chunk deep: the next chunk is read from the agent only while the one
        // before is written out, however slowly the caller reads.
        return reply.send(
          Readable.from(fileChunks(client, path, first, known), {
            objectMode: false,
            highWaterMark: FILE_CHUNK_BYTES,
          }),
        );
      },
    );

    api.put(
      `${DATA_PLANE_PREFIX}/vms/:id/files`,
      { schema: { params, querystring: fileWriteQuerySchema } },
      async (req): Promise<FileWriteResponse> => {
        const { path, mode } = req.query;
        const tooLarge = () =>
          new PayloadTooLargeError(`a file upload is at most ${maxUpload} bytes`);
        if (Number(req.headers["content-length"] ?? "0") > maxUpload) throw tooLarge();
        const client = await this.#running(req.params.id);
        let parts: Buffer[] = [];
        let pending = 0;
        let written = 0;
        let size = 0;
        let touched = false;
        const flush = async (): Promise<void> => {
          touched = true;
          const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
          parts = [];
          pending = 0;
          const r = await client.fs.write(path, data, {
            append: written > 0,
            ...(written === 0 && mode !== undefined ? { mode } : {}),
          });
          written += r.bytesWritten;
          size = r.size;
        };
        let first = true;
        let received = 0;
        try {
          // Async iteration reads the body only as fast as the agent takes it. Bytes are counted
          // as they come: a chunked upload declares no length. Leaving the loop early must not
          // destroy the request (and with it the socket the 413 goes out on).
          const body = req.raw.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
          for await (const chunk of body) {
            received += chunk.length;
            if (received > maxUpload) throw tooLarge();
            parts.push(chunk);
            pending += chunk.length;
            if (pending >= FILE_CHUNK_BYTES) {
              await flush();
              first = false;
            }
          }
          if (pending > 0 || first) await flush();
        } catch (err) {
          // An upload cut short (too large, the caller gone, the agent failing) leaves no partial
          // file that looks complete. Before the first write the old file, if any, is untouched.
          if (touched) {
            await client.fs.remove(path).catch((cause: unknown) => {
              this.#options.logger.warn(
                { err: cause, vmId: req.params.id, path },
                "could not remove a partial upload",
              );
            });
          }
          throw err;
        }
        return { path, size };
      },
    );

    api.delete(
      `${DATA_PLANE_PREFIX}/vms/:id/files`,
      { schema: { params, querystring: fileRemoveQuerySchema } },
      async (req, reply) => {
        const client = await this.#running(req.params.id);
        await client.fs.remove(req.query.path, { recursive: req.query.recursive });
        return reply.status(204).send();
      },
    );

    api.get(
      `${DATA_PLANE_PREFIX}/vms/:id/files/list`,
      { schema: { params, querystring: filePathQuerySchema } },
      async (req): Promise<FileListResponse> => {
        const { path } = req.query;
        const client = await this.#running(req.params.id);
        const entries = await client.fs.list(path);
        return {
          path,
          entries: entries.map((e): FileEntry => ({
            name: e.name,
            type: e.type === "directory" ? "dir" : e.type,
            size: Math.max(0, e.size),
            mode: e.mode,
            modifiedAt: new Date(e.mtimeMs).toISOString(),
          })),
        };
      },
    );
  }

  async #running(vmId: string): Promise<AgentClient> {
    return (await this.#manager(vmId)).runningClient(vmId);
  }

  #manager(vmId: string): Promise<SandboxManager> {
    return this.#options.managers.for(vmId);
  }
}

/**
 * A file's chunks from the agent, starting with `first`: each next chunk is asked for while the
 * one before is handed out. Fails when the file shrank below the length already announced, so the
 * response is cut rather than short and seemingly complete.
 */
async function* fileChunks(
  client: AgentClient,
  path: string,
  first: AgentReadChunk,
  known: number | null,
): AsyncGenerator<Buffer> {
  let offset = 0;
  let chunk = first;
  for (;;) {
    offset += chunk.bytesRead;
    const done = chunk.eof || chunk.bytesRead === 0 || (known !== null && offset >= known);
    const next = done ? undefined : nextChunk(client, path, offset, known);
    if (chunk.data.length > 0) yield chunk.data;
    if (!next) break;
    chunk = await next;
  }
  if (known !== null && offset < known) {
    throw new Error(`${path} shrank while it was read (${offset} of ${known} bytes)`);
  }
}

function nextChunk(
  client: AgentClient,
  path: string,
  offset: number,
  known: number | null,
): Promise<AgentReadChunk> {
  const length = known === null ? FILE_CHUNK_BYTES : Math.min(FILE_CHUNK_BYTES, known - offset);
  const p = client.fs.read(path, { offset, length });
  p.catch(() => {});
  return p;
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}
