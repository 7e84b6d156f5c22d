import type { Readable } from "node:stream";
import { UnauthorizedError, UnavailableError } from "@aetherium/common";
import {
  dataPlaneTargetFor,
  type DataPlaneClient,
  type DataPlaneTarget,
  type Repositories,
} from "@aetherium/core";
import type {
  ExecuteBody,
  Execution,
  FileListResponse,
  FileWriteResponse,
  HeldProcessControlBody,
  HeldProcessInfo,
  VmMetrics,
} from "@aetherium/types";
import type { WebSocket } from "ws";

/** Options of {@link DataPlaneRouter}. */
export interface DataPlaneRouterOptions {
  /** How long where a sandbox lives is remembered (default 5 s). */
  readonly ttlMs?: number;
  /** Most sandboxes remembered at once; past it the memory starts afresh (default 10 000). */
  readonly maxEntries?: number;
}

/**
 * The gateway's one way to a sandbox's data plane: finds the worker that serves the sandbox,
 * remembers it for a short while, and calls that worker through the {@link DataPlaneClient}.
 * Routes call it and only translate HTTP.
 *
 * Where a sandbox lives takes two queries to find, and every exec would pay them, hence the
 * memory. A stale entry cannot do harm — the worker checks on every request that it holds the
 * sandbox and that it runs, and any failure (the worker saying it does not hold it, a refused
 * token, a worker that cannot be reached) drops the entry — so it only saves lookups, never
 * decides anything.
 *
 * A worker that restarted has a new internal token and answers 401; that is our stale read, not
 * the caller's key, so the owner is looked up afresh and the call made once more (the worker
 * refuses before it runs anything, so nothing runs twice). A second refusal becomes a 503: the
 * caller's own key was fine, and passing the 401 on would tell them otherwise.
 */
export class DataPlaneRouter {
  readonly #repos: Repositories;
  readonly #client: DataPlaneClient;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #known = new Map<string, { target: DataPlaneTarget; until: number }>();

  constructor(repos: Repositories, client: DataPlaneClient, options: DataPlaneRouterOptions = {}) {
    this.#repos = repos;
    this.#client = client;
    this.#ttlMs = options.ttlMs ?? 5000;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  /**
   * The worker serving `vmId`, looked up now (never from memory): for decisions that outlive the
   * request, such as the queue a task goes to. Throws like `dataPlaneTargetFor`.
   */
  async owner(vmId: string): Promise<DataPlaneTarget> {
    return this.#lookup(vmId, true);
  }

  /** Runs a command to its end on the sandbox's worker; a non-zero exit is a result. */
  execute(vmId: string, spec: ExecuteBody, options: { signal?: AbortSignal } = {}) {
    // A refused token is answered before the command starts, so a retry cannot run it twice.
    return this.withOwner<Execution>(vmId, (t) => this.#client.execute(t, vmId, spec, options));
  }

  /** Opens the worker's exec WebSocket for the sandbox (see `DataPlaneClient.openExec`). */
  openExec(vmId: string): Promise<WebSocket> {
    return this.withOwner(vmId, (t) => this.#client.openExec(t, vmId));
  }

  /** Opens the stream of the worker's held processes (see `DataPlaneClient.openProcessStream`). */
  openProcessStream(vmId: string): Promise<WebSocket> {
    return this.withOwner(vmId, (t) => this.#client.openProcessStream(t, vmId));
  }

  /** The running held processes of a sandbox, whichever gateway started them. */
  listProcesses(vmId: string): Promise<HeldProcessInfo[]> {
    return this.withOwner(vmId, (t) => this.#client.listProcesses(t, vmId));
  }

  /** Feeds, signals, resizes or closes the input of a held process. */
  controlProcess(vmId: string, body: HeldProcessControlBody): Promise<void> {
    return this.withOwner(vmId, (t) => this.#client.controlProcess(t, vmId, body));
  }

  /** One sample of the sandbox's CPU, memory and disk use, taken now. */
  metrics(vmId: string): Promise<VmMetrics> {
    return this.withOwner(vmId, (t) => this.#client.metrics(t, vmId));
  }

  /** Streams a file out of the sandbox. */
  readFile(vmId: string, path: string): Promise<{ body: Readable; size: number | null }> {
    return this.withOwner(vmId, (t) => this.#client.readFile(t, vmId, path));
  }

  /**
   * Writes a file, streaming `body`. Tried once only: a stream is spent by the first attempt, so
   * the owner is looked up afresh first, and a refused token is a 503 rather than a retry with no
   * bytes left.
   */
  async writeFile(
    vmId: string,
    path: string,
    body: Readable | Uint8Array,
    options: { mode?: number } = {},
  ): Promise<FileWriteResponse> {
    const target = await this.#lookup(vmId, true);
    try {
      return await this.#client.writeFile(target, vmId, path, body, options);
    } catch (err) {
      this.#known.delete(vmId);
      if (err instanceof UnauthorizedError) throw refused(target);
      throw err;
    }
  }

  /** Removes a file, or with `recursive` a directory tree. */
  removeFile(vmId: string, path: string, options: { recursive?: boolean } = {}): Promise<void> {
    return this.withOwner(vmId, (t) => this.#client.removeFile(t, vmId, path, options));
  }

  /** Lists a directory. */
  listFiles(vmId: string, path: string): Promise<FileListResponse> {
    return this.withOwner(vmId, (t) => this.#client.listFiles(t, vmId, path));
  }

  /**
   * Runs `fn` against the worker serving `vmId`, with the memory and the one retry on a refused
   * token described on {@link DataPlaneRouter}. `fn` must refuse before it has any effect when
   * the token is refused, as every data-plane call does.
   */
  async withOwner<T>(vmId: string, fn: (target: DataPlaneTarget) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.#lookup(vmId, false));
    } catch (err) {
      this.#known.delete(vmId);
      if (!(err instanceof UnauthorizedError)) throw err;
    }
    const again = await this.#lookup(vmId, true);
    try {
      return await fn(again);
    } catch (err) {
      this.#known.delete(vmId);
      if (!(err instanceof UnauthorizedError)) throw err;
      throw refused(again);
    }
  }

  async #lookup(vmId: string, fresh: boolean): Promise<DataPlaneTarget> {
    const hit = this.#known.get(vmId);
    if (!fresh && hit && hit.until > Date.now()) return hit.target;
    const target = await dataPlaneTargetFor(this.#repos, vmId);
    // Bounded: a miss costs two queries, nothing more.
    if (this.#known.size >= this.#maxEntries) this.#known.clear();
    this.#known.set(vmId, { target, until: Date.now() + this.#ttlMs });
    return target;
  }
}

function refused(target: DataPlaneTarget): UnavailableError {
  return new UnavailableError(
    `worker ${target.workerId} refused this gateway; it may be restarting, try again`,
  );
}
