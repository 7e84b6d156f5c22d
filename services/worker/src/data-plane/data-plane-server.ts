import { createHash, timingSafeEqual } from "node:crypto";

import type { IncomingMessage, ServerResponse } from "node:http";

import type { Duplex } from "node:stream";

import {
  BadRequestError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  ValidationError,
  isAetheriumError,
  type Logger,
} from "@aetherium/common";
import {
  executeBodySchema,
  type ExecuteResponse,
  type FileEntry,
  type FileListResponse,
  type FileWriteResponse,
} from "@aetherium/types";

import { WebSocketServer, type WebSocket } from "ws";

import type { AgentClient, AgentReadChunk } from "../agent-client/agent-client.js";

import {
  toExecution,
  rawErrorResponse,
  requestIdOf,
  sendError,
  sendJson,
  booleanParam,
  fileMode,
  sandboxPath,
  BufferWatermark,
  DEFAULT_MAX_BUFFERED_BYTES,
} from "@aetherium/core";

import type { SandboxManager } from "../sandbox/sandbox-manager.js";

import type { SandboxManagers } from "../sandbox/sandbox-managers.js";

import { runExecSession } from "./exec-session.js";

/** Prefix of every data-plane route on the worker's internal port. */
export const DATA_PLANE_PREFIX = "/internal/v1";

/** Bytes of one `fs.read` / `fs.write` the file routes exchange with the agent. */
export const FILE_CHUNK_BYTES = 1024 * 1024;

/** Options of {@link DataPlane}. */
export interface DataPlaneOptions {
  /** The worker's sandboxes, one manager per backend; with none ready every route answers 503. */
  readonly managers: SandboxManagers;
  /** The bearer token every request must carry (the one registered in the `workers` row). */
  readonly token: string;
  readonly logger: Logger;
  /** Unsent bytes an exec socket may hold before output is held back (default 1 MiB). */
  readonly maxBufferedBytes?: number;
  /** Largest execute body accepted (default 12 MiB: 10 MiB of stdin plus the command). */
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

const ROUTE = /^\/internal\/v1\/vms\/([^/]+)\/(execute|files|files\/list|exec)$/;

/**
 * The worker's data plane, served on its internal port beside `/healthz` and `/metrics`: the
 * routes a gateway calls on the worker that owns a sandbox (DESIGN.md "Flow of one request").
 *
 * - `POST /internal/v1/vms/:id/execute` (spec/api.md execute body) → `{execution}`, recorded;
 * - `GET|PUT|DELETE /internal/v1/vms/:id/files?path=` (file bytes streamed in chunks both
 *   ways; `PUT ?mode=` octal; `DELETE ?recursive=`) and `GET …/files/list?path=`;
 * - WebSocket `GET /internal/v1/vms/:id/exec`, the public exec protocol unchanged.
 *
 * Every request carries `Authorization: Bearer <token>`; errors are spec/api.md's envelope.
 */
export class DataPlane {
  readonly #options: DataPlaneOptions;
  readonly #tokenDigest: Buffer;
  readonly #wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 16 * 1024 * 1024,
  });
  readonly #sessions = new Set<Promise<void>>();
  readonly #watermark = new BufferWatermark();
  readonly #maxBuffered: number;

  constructor(options: DataPlaneOptions) {
    this.#options = options;
    this.#tokenDigest = digest(options.token);
    this.#maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  }

  /** Whether `path` (without the query) is one of ours. */
  handles(path: string): boolean {
    return path === DATA_PLANE_PREFIX || path.startsWith(`${DATA_PLANE_PREFIX}/`);
  }

  /** Current sessions and the buffering high-water mark. */
  stats(): DataPlaneStats {
    return { execSessions: this.#sessions.size, maxBufferedBytes: this.#watermark.max };
  }

  /** Serves one HTTP request under {@link DATA_PLANE_PREFIX}. */
  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const requestId = requestIdOf(req);
    this.#route(req, res).catch((err: unknown) => {
      if (!isAetheriumError(err)) {
        this.#options.logger.error(
          { err, method: req.method, path: pathOf(req), requestId },
          "data-plane request failed",
        );
      }
      // Whatever of the body is still coming is not wanted any more.
      if (!req.complete) res.setHeader("connection", "close");
      sendError(res, err, requestId);
    });
  }

  /** Serves one upgrade request (the exec WebSocket); refuses others with an envelope. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const requestId = requestIdOf(req);
    socket.on("error", () => {});
    this.#upgrade(req, socket, head).catch((err: unknown) => {
      if (!isAetheriumError(err)) {
        this.#options.logger.error({ err, requestId }, "exec upgrade failed");
      }
      if (socket.writable) socket.end(rawErrorResponse(err, requestId));
      else socket.destroy();
    });
  }

  /** Closes every exec socket (their commands are killed) and waits for them to be recorded. */
  async close(): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate();
    await Promise.allSettled([...this.#sessions]);
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    this.#authenticate(req);
    const match = ROUTE.exec(pathOf(req));
    if (req.method !== "GET" || !match || match[2] !== "exec") {
      throw new NotFoundError("route", pathOf(req));
    }
    const vmId = vmIdOf(match[1]!);
    // Refused before the upgrade (unknown, elsewhere, stopped, agent down) so the caller gets a
    // status and an envelope instead of a socket that errors at once.
    await (await this.#manager(vmId)).runningClient(vmId);
    const ws = await new Promise<WebSocket>((resolve) =>
      this.#wss.handleUpgrade(req, socket, head, resolve),
    );
    const session = runExecSession(ws, {
      manager: await this.#manager(vmId),
      vmId,
      logger: this.#options.logger,
      maxBufferedBytes: this.#maxBuffered,
      watermark: this.#watermark,
    });
    this.#sessions.add(session);
    void session.finally(() => this.#sessions.delete(session));
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#authenticate(req);
    const url = new URL(req.url ?? "/", "http://internal");
    const match = ROUTE.exec(url.pathname);
    if (!match) throw new NotFoundError("route", url.pathname);
    const vmId = vmIdOf(match[1]!);
    const route = `${req.method ?? "GET"} ${match[2]!}`;
    switch (route) {
      case "POST execute":
        return this.#execute(req, res, vmId);
      case "GET files":
        return this.#readFile(res, vmId, sandboxPath(url.searchParams.get("path")));
      case "PUT files":
        return this.#writeFile(
          req,
          res,
          vmId,
          sandboxPath(url.searchParams.get("path")),
          fileMode(url.searchParams.get("mode")),
        );
      case "DELETE files": {
        const path = sandboxPath(url.searchParams.get("path"));
        const recursive = booleanParam(url.searchParams.get("recursive"), "recursive");
        const client = await (await this.#manager(vmId)).runningClient(vmId);
        await client.fs.remove(path, { recursive });
        res.writeHead(204);
        res.end();
        return;
      }
      case "GET files/list":
        return this.#list(res, vmId, sandboxPath(url.searchParams.get("path")));
      case "GET exec":
        throw new BadRequestError("the exec route is a WebSocket: send an upgrade request");
      default:
        throw new NotFoundError("route", `${req.method} ${url.pathname}`);
    }
  }

  #authenticate(req: IncomingMessage): void {
    const header = req.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1]!), this.#tokenDigest)) {
      throw new UnauthorizedError("missing or invalid worker token");
    }
  }

  #manager(vmId: string): Promise<SandboxManager> {
    return this.#options.managers.for(vmId);
  }

  async #execute(req: IncomingMessage, res: ServerResponse, vmId: string): Promise<void> {
    const limit = this.#options.maxExecuteBodyBytes ?? 12 * 1024 * 1024;
    const text = (await readBody(req, limit)).toString("utf8");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new BadRequestError("request body is not valid JSON");
    }
    const body = executeBodySchema.safeParse(json);
    if (!body.success) throw new ValidationError(body.error, "request body");
    const manager = await this.#manager(vmId);
    // The gateway hanging up (its client gave up) kills the command rather than leave it running.
    const aborter = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) aborter.abort();
    };
    res.on("close", onClose);
    try {
      // The answer leaves as soon as the agent reports the exit; the row (inserted before the
      // command started) is completed in the background, off the caller's wait.
      const row = await manager.exec(vmId, body.data, {
        signal: aborter.signal,
        deferRecord: true,
      });
      const answer: ExecuteResponse = { execution: toExecution(row) };
      sendJson(res, 200, answer);
    } finally {
      res.off("close", onClose);
    }
  }

  async #readFile(res: ServerResponse, vmId: string, path: string): Promise<void> {
    const client = await (await this.#manager(vmId)).runningClient(vmId);
    // The first chunk is read before anything is sent: a missing file or a directory still gets
    // a proper status and envelope.
    const first = await client.fs.read(path, { offset: 0, length: FILE_CHUNK_BYTES });
    // Regular files announce their length; files whose size says nothing (`/proc`) stream until
    // their end. A file that grows meanwhile is sent as it was when first read.
    const known = first.eof ? first.bytesRead : first.size > 0 ? first.size : null;
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      ...(known !== null ? { "content-length": known } : {}),
    });
    let aborted = false;
    res.on("close", () => (aborted = true));
    let offset = 0;
    let chunk: AgentReadChunk = first;
    for (;;) {
      offset += chunk.bytesRead;
      const done = chunk.eof || chunk.bytesRead === 0 || (known !== null && offset >= known);
      // Read the next chunk while this one is written out.
      const next = done ? undefined : nextChunk(client, path, offset, known);
      if (!res.write(chunk.data)) await drained(res);
      if (aborted) {
        await next?.catch(() => {});
        return;
      }
      if (!next) break;
      chunk = await next;
    }
    if (known !== null && offset < known) {
      throw new Error(`${path} shrank while it was read (${offset} of ${known} bytes)`);
    }
    res.end();
  }

  async #writeFile(
    req: IncomingMessage,
    res: ServerResponse,
    vmId: string,
    path: string,
    mode: number | undefined,
  ): Promise<void> {
    const limit = this.#options.maxUploadBytes ?? 1024 * 1024 * 1024;
    const tooLarge = () => new PayloadTooLargeError(`a file upload is at most ${limit} bytes`);
    if (Number(req.headers["content-length"] ?? "0") > limit) throw tooLarge();
    const client = await (await this.#manager(vmId)).runningClient(vmId);
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
      // Async iteration reads the body only as fast as the agent takes it. Bytes are counted as
      // they come: a chunked upload declares no length. Leaving the loop early must not destroy
      // the request (and with it the socket the 413 goes out on).
      const body = req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
      for await (const chunk of body) {
        received += chunk.length;
        if (received > limit) throw tooLarge();
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
            { err: cause, vmId, path },
            "could not remove a partial upload",
          );
        });
      }
      throw err;
    }
    const answer: FileWriteResponse = { path, size };
    sendJson(res, 200, answer);
  }

  async #list(res: ServerResponse, vmId: string, path: string): Promise<void> {
    const client = await (await this.#manager(vmId)).runningClient(vmId);
    const entries = await client.fs.list(path);
    const answer: FileListResponse = {
      path,
      entries: entries.map((e): FileEntry => ({
        name: e.name,
        type: e.type === "directory" ? "dir" : e.type,
        size: Math.max(0, e.size),
        mode: e.mode,
        modifiedAt: new Date(e.mtimeMs).toISOString(),
      })),
    };
    sendJson(res, 200, answer);
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

function vmIdOf(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new BadRequestError("the sandbox id in the path is not valid percent-encoding");
  }
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? "/").split("?")[0] ?? "/";
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new PayloadTooLargeError(`request body exceeds ${limit} bytes`);
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}
