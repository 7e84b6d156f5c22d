import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AetheriumError, ConflictError, NotFoundError, UnavailableError } from "@aetherium/common";
import {
  executeResponseSchema,
  fileListResponseSchema,
  fileWriteResponseSchema,
  heldProcessListSchema,
  servingWorker,
  vmMetricsResponseSchema,
  type ExecuteBody,
  type Execution,
  type FileListResponse,
  type FileWriteResponse,
  type HeldProcessControlBody,
  type HeldProcessInfo,
  type VmMetrics,
} from "@aetherium/types";
import { WebSocket } from "ws";
import type { Repositories } from "../storage/repositories/create-repositories.js";
import { errorFromEnvelope } from "./envelope.js";
import { relayExecSockets as relay, type RelayOptions } from "./exec-relay.js";

/** Where a sandbox's data plane is: its worker, that worker's internal address and token. */
export interface DataPlaneTarget {
  readonly workerId: string;
  /** `http://host:port` (a bare `host:port` works too). */
  readonly address: string;
  /** The worker's internal bearer token. Secret: do not log it. */
  readonly token: string;
}

/**
 * Resolves the worker that owns `vmId`: NotFoundError (no such sandbox), ConflictError (not
 * running / no worker yet), UnavailableError (worker offline, or one that serves no data plane).
 */
export async function dataPlaneTargetFor(
  repos: Repositories,
  vmId: string,
): Promise<DataPlaneTarget> {
  const vm = await repos.vms.get(vmId);
  if (!vm || vm.status === "deleted") throw new NotFoundError("vm", vmId);
  const workerId = servingWorker(vm);
  if (!workerId) {
    throw new ConflictError(
      vm.status === "running"
        ? `sandbox ${vmId} has no worker yet`
        : `sandbox ${vmId} is ${vm.status}, not running`,
    );
  }
  const worker = await repos.workers.get(workerId);
  if (!worker || worker.status === "offline") {
    throw new UnavailableError(`worker ${workerId} of sandbox ${vmId} is offline`);
  }
  if (!worker.internalToken) {
    // Tokens are stored sealed; one that does not open here was sealed under another key.
    throw new UnavailableError(
      `worker ${workerId} registered no data-plane token this process can open: it serves no data plane, or it runs with another encryption key (give every gateway and worker the same AETHERIUM_ENCRYPTION_KEY)`,
    );
  }
  return { workerId: worker.id, address: worker.address, token: worker.internalToken };
}

/** Options of {@link DataPlaneClient}. */
export interface DataPlaneClientOptions {
  /**
   * How long the worker may stay silent before it answers a file or list request (or, during an
   * upload, takes no bytes), and how long opening the exec WebSocket may take (default 30 s).
   * `execute` waits as long as its command runs; a download may be read as slowly as needed.
   */
  readonly timeoutMs?: number;
}

/**
 * The gateway's client of the workers' data plane (`/internal/v1/…` on a worker's internal
 * port). Errors the worker answers come back as the matching {@link AetheriumError} subclass with
 * the same code and message, so a gateway lets them propagate; a worker that cannot be reached is
 * an {@link UnavailableError}.
 */
export class DataPlaneClient {
  readonly #timeoutMs: number;
  readonly #agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 10_000 });
  readonly #tlsAgent = new https.Agent({ keepAlive: true, keepAliveMsecs: 10_000 });

  constructor(options: DataPlaneClientOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Runs a command to its end (recorded in `executions`); a non-zero exit is a result. */
  async execute(
    target: DataPlaneTarget,
    vmId: string,
    body: ExecuteBody,
    options: { signal?: AbortSignal } = {},
  ): Promise<Execution> {
    const payload = Buffer.from(JSON.stringify(body));
    const res = await this.#request(target, "POST", vmPath(vmId, "execute"), {
      body: payload,
      contentType: "application/json",
      // A command may print nothing for as long as it runs: no idle limit.
      timeoutMs: 0,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return executeResponseSchema.parse(await readJson(res, target)).execution;
  }

  /** Streams a file out of the sandbox; `size` is its length when the worker knows it. */
  async readFile(
    target: DataPlaneTarget,
    vmId: string,
    path: string,
  ): Promise<{ body: Readable; size: number | null }> {
    const res = await this.#request(target, "GET", vmPath(vmId, "files", { path }));
    const length = res.headers["content-length"];
    return { body: res, size: length === undefined ? null : Number(length) };
  }

  /** Writes a file (parents created), streaming `body`; `mode` sets its permission bits. */
  async writeFile(
    target: DataPlaneTarget,
    vmId: string,
    path: string,
    body: Readable | Uint8Array,
    options: { mode?: number } = {},
  ): Promise<FileWriteResponse> {
    const query: Record<string, string> = { path };
    if (options.mode !== undefined) query.mode = options.mode.toString(8);
    const res = await this.#request(target, "PUT", vmPath(vmId, "files", query), {
      body,
      contentType: "application/octet-stream",
    });
    return fileWriteResponseSchema.parse(await readJson(res, target));
  }

  /** Removes a file, or with `recursive` a directory tree. */
  async removeFile(
    target: DataPlaneTarget,
    vmId: string,
    path: string,
    options: { recursive?: boolean } = {},
  ): Promise<void> {
    const query: Record<string, string> = { path };
    if (options.recursive) query.recursive = "true";
    const res = await this.#request(target, "DELETE", vmPath(vmId, "files", query));
    res.resume();
  }

  /** Lists a directory. */
  async listFiles(target: DataPlaneTarget, vmId: string, path: string): Promise<FileListResponse> {
    const res = await this.#request(target, "GET", vmPath(vmId, "files/list", { path }));
    return fileListResponseSchema.parse(await readJson(res, target));
  }

  /**
   * Opens the worker's exec WebSocket (a `ws` WebSocket, already open), which speaks the public
   * exec protocol: relay it with {@link relayExecSockets}. A refusal (unknown sandbox, stopped,
   * bad token) rejects with the worker's error.
   */
  openExec(target: DataPlaneTarget, vmId: string): Promise<WebSocket> {
    return this.#openSocket(target, vmPath(vmId, "exec"));
  }

  /**
   * Opens the stream of the worker's held processes (already open): send one `start` or
   * `attach` message (`heldProcessOpenMessageSchema`), then read `heldProcessServerMessageSchema`
   * messages. Closing it leaves the process running.
   */
  openProcessStream(target: DataPlaneTarget, vmId: string): Promise<WebSocket> {
    return this.#openSocket(target, vmPath(vmId, "processes/stream"));
  }

  /** The running held processes of a sandbox. */
  async listProcesses(target: DataPlaneTarget, vmId: string): Promise<HeldProcessInfo[]> {
    const res = await this.#request(target, "GET", vmPath(vmId, "processes"));
    return heldProcessListSchema.parse(await readJson(res, target)).processes;
  }

  /** One sample of a running sandbox's CPU, memory and disk use, taken now. */
  async metrics(target: DataPlaneTarget, vmId: string): Promise<VmMetrics> {
    const res = await this.#request(target, "GET", vmPath(vmId, "metrics"));
    return vmMetricsResponseSchema.parse(await readJson(res, target)).metrics;
  }

  /** Feeds, signals, resizes or closes the input of a held process. */
  async controlProcess(
    target: DataPlaneTarget,
    vmId: string,
    body: HeldProcessControlBody,
  ): Promise<void> {
    const res = await this.#request(target, "POST", vmPath(vmId, "processes/control"), {
      body: Buffer.from(JSON.stringify(body)),
      contentType: "application/json",
    });
    res.resume();
  }

  #openSocket(target: DataPlaneTarget, path: string): Promise<WebSocket> {
    const url = new URL(path, baseUrl(target));
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${target.token}` },
      perMessageDeflate: false,
      handshakeTimeout: this.#timeoutMs,
      maxPayload: 16 * 1024 * 1024,
    });
    return new Promise<WebSocket>((resolve, reject) => {
      let settled = false;
      const settle = (err?: AetheriumError): void => {
        if (settled) return;
        settled = true;
        ws.off("open", onOpen);
        if (err) reject(err);
        else resolve(ws);
      };
      const onOpen = (): void => settle();
      ws.once("open", onOpen);
      ws.once("unexpected-response", (_req, res) => {
        readText(res).then(
          (text) => {
            settle(errorFromEnvelope(res.statusCode ?? 502, text));
            ws.terminate();
          },
          () => {
            settle(unreachable(target, new Error(`status ${res.statusCode}`)));
            ws.terminate();
          },
        );
      });
      ws.on("error", (err) => settle(unreachable(target, err)));
    });
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.#agent.destroy();
    this.#tlsAgent.destroy();
  }

  #request(
    target: DataPlaneTarget,
    method: string,
    path: string,
    options: {
      body?: Readable | Uint8Array;
      contentType?: string;
      timeoutMs?: number;
      signal?: AbortSignal;
    } = {},
  ): Promise<IncomingMessage> {
    const url = new URL(path, baseUrl(target));
    const tls = url.protocol === "https:";
    const { body } = options;
    const headers: Record<string, string | number> = {
      authorization: `Bearer ${target.token}`,
    };
    if (options.contentType) headers["content-type"] = options.contentType;
    if (body instanceof Uint8Array) headers["content-length"] = body.byteLength;
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = (tls ? https : http).request(url, {
        method,
        headers,
        agent: tls ? this.#tlsAgent : this.#agent,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () =>
          req.destroy(
            new UnavailableError(
              `worker ${target.workerId} did not answer ${method} ${url.pathname} in ${timeoutMs} ms`,
            ),
          ),
        );
      }
      let answered = false;
      req.on("response", (res) => {
        answered = true;
        // The limit is on the worker's answer; a body read slowly (a file relayed to a slow
        // client) may pause as long as its reader does.
        if (timeoutMs > 0) req.setTimeout(0);
        const status = res.statusCode ?? 500;
        if (status >= 200 && status < 300) {
          resolve(res);
          return;
        }
        readText(res).then(
          (text) => reject(errorFromEnvelope(status, text)),
          (err: unknown) => reject(unreachable(target, err)),
        );
      });
      // A body that fails with one of our errors (an upload over its limit) is the reason the
      // request broke, not the worker: that error is the answer.
      let bodyError: AetheriumError | undefined;
      if (body !== undefined && !(body instanceof Uint8Array)) {
        body.once("error", (err) => {
          if (err instanceof AetheriumError) bodyError = err;
        });
      }
      req.on("error", (err) => {
        if (answered) return;
        if (bodyError) reject(bodyError);
        else if (options.signal?.aborted) {
          const reason: unknown = options.signal.reason;
          reject(reason instanceof Error ? reason : err);
        } else reject(err instanceof AetheriumError ? err : unreachable(target, err));
      });
      if (body === undefined) req.end();
      else if (body instanceof Uint8Array) req.end(body);
      else {
        // An early answer (an error while the body is still going up) wins over the broken
        // upload it causes.
        pipeline(body, req).catch((err: unknown) => {
          if (!answered) req.destroy(err instanceof Error ? err : new Error(String(err)));
        });
      }
    });
  }
}

/**
 * Relays between a public client socket and the worker's exec socket: validates client messages
 * with `execClientMessageSchema` (a bad one gets an `error` message, not a crash), forwards server
 * messages, applies backpressure both ways (pauses the upstream socket while the client's
 * `bufferedAmount` is high, and vice versa), and closes both together. Resolves once both are
 * closed. Pause the client socket (`client.pause()`) while `openExec` is awaited so nothing it
 * sends meanwhile is lost; this resumes it.
 */
export function relayExecSockets(
  client: WebSocket,
  upstream: WebSocket,
  options: RelayOptions = {},
): Promise<void> {
  return relay(client, upstream, options);
}

function baseUrl(target: DataPlaneTarget): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(target.address)
    ? target.address
    : `http://${target.address}`;
}

function vmPath(vmId: string, route: string, query?: Record<string, string>): string {
  const q = query ? `?${new URLSearchParams(query).toString()}` : "";
  return `/internal/v1/vms/${encodeURIComponent(vmId)}/${route}${q}`;
}

function unreachable(target: DataPlaneTarget, err: unknown): UnavailableError {
  const reason = err instanceof Error ? err.message : String(err);
  return new UnavailableError(`worker ${target.workerId} is unreachable: ${reason}`, {
    cause: err,
  });
}

async function readText(res: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts).toString("utf8");
}

async function readJson(res: IncomingMessage, target: DataPlaneTarget): Promise<unknown> {
  try {
    return JSON.parse(await readText(res));
  } catch (err) {
    throw unreachable(target, err);
  }
}
