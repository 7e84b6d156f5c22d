import {
  apiKeySchema,
  backendsResponseSchema,
  clusterStatsSchema,
  createApiKeyResponseSchema,
  createVmAcceptedResponseSchema,
  executionResponseSchema,
  healthResponseSchema,
  isTerminalTaskStatus,
  pageSchema,
  taskResponseSchema,
  taskSchema,
  vmResponseSchema,
  vmSchema,
  workerResponseSchema,
  workerSchema,
  IDEMPOTENCY_KEY_HEADER,
  type ApiKey,
  type ApiKeyScope,
  type BackendsResponse,
  type ClusterStats,
  type CreateApiKeyResponse,
  type CreateVmBody,
  type DomainEvent,
  type Execution,
  type Page,
  type Task,
  type TaskStatus,
  type TaskType,
  type Vm,
  type VmStatus,
  type Worker,
  type WorkerStatus,
} from "@aetherium/types";
import { SandboxError, TimeoutError, UnavailableError } from "./errors.js";
import {
  subscribeEvents,
  type EventSubscription,
  type SubscribeOptions,
  type SubscribeQuery,
} from "./events.js";
import { Sandbox } from "./sandbox.js";
import { sleep } from "./timing.js";
import { checkShape, seg, Transport, type RequestOptions } from "./transport.js";
import type { WebSocketConstructor } from "./websocket.js";

/** How to reach a gateway. */
export interface ClientOptions {
  /** Base URL of the gateway, e.g. `http://127.0.0.1:8080` (no `/api/v1`). */
  readonly url: string;
  /** An API key; sent as `Authorization: Bearer <key>` and as WebSocket subprotocol `bearer.<key>`. */
  readonly apiKey?: string;
  /** A fetch implementation; the global one by default (Node 20 and browsers have it). */
  readonly fetch?: typeof fetch;
  /**
   * A WebSocket class; by default `globalThis.WebSocket` (browsers, Node ≥ 22), else the `ws`
   * package (Node 20; an optional peer dependency).
   */
  readonly WebSocket?: WebSocketConstructor;
}

/** Health of one component, as `GET /health` reports it. */
export interface ComponentHealthReport {
  /** `ok`, `degraded` or `down`. */
  readonly status: "ok" | "degraded" | "down";
  /** What it is or what is wrong (`pglite`, `engine not reachable`…). */
  readonly detail?: string;
  /** Why it is not `ok`. */
  readonly message?: string;
}

/** `GET /api/v1/health` response. */
export interface HealthResponse {
  /** `degraded` when any component is not `ok`. */
  readonly status: "ok" | "degraded";
  /** Each component by name (`database`, `queue`, `backend:docker`…). */
  readonly components: Record<string, ComponentHealthReport>;
  /** The gateway's version, when it says. */
  readonly version?: string;
}

/** Paging of every list call. */
export interface ListOptions {
  /** Page size (default 50, at most 500). */
  readonly limit?: number;
  /** The `nextCursor` of the previous page. */
  readonly cursor?: string;
  /** Cancels the call. */
  readonly signal?: AbortSignal;
}

/** Filters of `client.vms.list()`. */
export interface ListVmsOptions extends ListOptions {
  /** Only sandboxes in one of these statuses. */
  readonly status?: VmStatus | readonly VmStatus[];
  /** Only sandboxes carrying all these labels. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Only sandboxes on this worker. */
  readonly workerId?: string;
}

/** Options of `client.vms.create()`. */
export interface CreateVmOptions {
  /** Answer once the sandbox is `running` and its agent answers (`?wait=true`). */
  readonly wait?: boolean;
  /** Makes the create safe to retry: the same key returns the first result. */
  readonly idempotencyKey?: string;
  /** Cancels the call. */
  readonly signal?: AbortSignal;
}

/** Filters of `client.tasks.list()`. */
export interface ListTasksOptions extends ListOptions {
  /** Only tasks in one of these statuses. */
  readonly status?: TaskStatus | readonly TaskStatus[];
  /** Only tasks of these types. */
  readonly type?: TaskType | readonly TaskType[];
  /** Only tasks of this sandbox. */
  readonly vmId?: string;
  /** Only tasks run by this worker. */
  readonly workerId?: string;
}

/** Filters of `client.workers.list()`. */
export interface ListWorkersOptions extends ListOptions {
  /** Only workers in one of these statuses. */
  readonly status?: WorkerStatus | readonly WorkerStatus[];
  /** Only workers of this zone. */
  readonly zone?: string;
}

/** Options of `client.tasks.wait()`. */
export interface WaitTaskOptions {
  /** Give up with `TimeoutError` after this many ms (default 120 000). */
  readonly timeoutMs?: number;
  /** Poll interval in ms (default 250). */
  readonly intervalMs?: number;
  /** Cancels the wait. */
  readonly signal?: AbortSignal;
}

function sandboxError(vm: Vm, cause?: Error): SandboxError {
  const why = vm.error ?? cause?.message;
  return new SandboxError(
    `sandbox ${vm.name} (${vm.id}) is ${vm.status}${why ? `: ${why}` : ""}`,
    vm.id,
    vm.status,
    vm.error,
  );
}

const list = (v: string | readonly string[] | undefined) =>
  v === undefined ? undefined : typeof v === "string" ? [v] : v;

function pageQuery(options: ListOptions): RequestOptions["query"] {
  return { limit: options.limit, cursor: options.cursor };
}

/** `client.vms`: create, find and list sandboxes. */
export class VmsApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /**
   * Creates a sandbox. Without `wait` it answers at once with the sandbox `pending` (follow it
   * with `sandbox.waitUntil("running")`); with `wait` once it is running. Throws
   * {@link SandboxError} if it failed on the way.
   */
  async create(body: CreateVmBody = {}, options: CreateVmOptions = {}): Promise<Sandbox> {
    const headers: Record<string, string> = {};
    if (options.idempotencyKey) headers[IDEMPOTENCY_KEY_HEADER] = options.idempotencyKey;
    const req: RequestOptions = {
      body,
      headers,
      query: options.wait ? { wait: true } : undefined,
      signal: options.signal,
    };
    if (!options.wait) {
      const res = await this.#t.requestChecked(createVmAcceptedResponseSchema, "POST", "/vms", req);
      return new Sandbox(this.#t, res.vm, res.taskId);
    }
    let answer: unknown;
    try {
      answer = await this.#t.request("POST", "/vms", req);
    } catch (err) {
      // A failed create answers 503 with the sandbox in `details`: say what happened to it.
      const vm = (err as { details?: { vm?: unknown } }).details?.vm;
      const parsed = err instanceof UnavailableError ? vmSchema.safeParse(vm) : undefined;
      if (parsed?.success) throw sandboxError(parsed.data, err as Error);
      throw err;
    }
    const { vm } = checkShape(vmResponseSchema, answer, "POST /vms?wait=true");
    const taskId = (answer as { taskId?: unknown }).taskId;
    const sandbox = new Sandbox(this.#t, vm, typeof taskId === "string" ? taskId : null);
    if (vm.status === "running") return sandbox;
    if (vm.status === "failed" || vm.status === "lost" || vm.status === "deleted") {
      throw sandboxError(vm);
    }
    // The gateway's own wait ran out (202): keep waiting here, so `wait` always means running.
    await sandbox.waitUntil("running", { signal: options.signal });
    return sandbox;
  }

  /** One page of sandboxes, newest first. */
  list(options: ListVmsOptions = {}): Promise<Page<Vm>> {
    const labels = options.labels
      ? Object.entries(options.labels).map(([k, v]) => `${k}=${v}`)
      : undefined;
    return this.#t.requestChecked(pageSchema(vmSchema), "GET", "/vms", {
      query: {
        ...pageQuery(options),
        status: list(options.status),
        label: labels,
        workerId: options.workerId,
      },
      signal: options.signal,
    });
  }

  /** Every sandbox matching the filters, fetching page after page as the loop asks. */
  async *iterate(
    options: Omit<ListVmsOptions, "cursor"> = {},
  ): AsyncGenerator<Vm, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...options, cursor });
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  /** A handle on sandbox `id`; throws `NotFoundError` if there is none. */
  async get(id: string, options: { signal?: AbortSignal } = {}): Promise<Sandbox> {
    const { vm } = await this.#t.requestChecked(vmResponseSchema, "GET", `/vms/${seg(id)}`, {
      signal: options.signal,
    });
    return new Sandbox(this.#t, vm);
  }
}

/** `client.executions`: recorded commands. */
export class ExecutionsApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** The execution record `id` (output capped; see the `…Truncated` flags). */
  async get(id: string, options: { signal?: AbortSignal } = {}): Promise<Execution> {
    const body = await this.#t.requestChecked(
      executionResponseSchema,
      "GET",
      `/executions/${seg(id)}`,
      { signal: options.signal },
    );
    return body.execution;
  }
}

/** `client.tasks`: durable control-plane tasks. */
export class TasksApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** Task `id`. */
  async get(id: string, options: { signal?: AbortSignal } = {}): Promise<Task> {
    const body = await this.#t.requestChecked(taskResponseSchema, "GET", `/tasks/${seg(id)}`, {
      signal: options.signal,
    });
    return body.task;
  }

  /** One page of tasks, newest first. */
  list(options: ListTasksOptions = {}): Promise<Page<Task>> {
    return this.#t.requestChecked(pageSchema(taskSchema), "GET", "/tasks", {
      query: {
        ...pageQuery(options),
        status: list(options.status),
        type: list(options.type),
        vmId: options.vmId,
        workerId: options.workerId,
      },
      signal: options.signal,
    });
  }

  /** Cancels a task that has not finished; a finished one gives `ConflictError`. */
  async cancel(id: string, options: { signal?: AbortSignal } = {}): Promise<Task> {
    const body = await this.#t.requestChecked(
      taskResponseSchema,
      "POST",
      `/tasks/${seg(id)}/cancel`,
      { signal: options.signal },
    );
    return body.task;
  }

  /**
   * Resolves with the task once it has finished (`succeeded`, `failed` or `cancelled`; check
   * `status`); throws {@link TimeoutError} when `timeoutMs` runs out first.
   */
  async wait(id: string, options: WaitTaskOptions = {}): Promise<Task> {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = await this.get(id, { signal: options.signal });
      if (isTerminalTaskStatus(task.status)) return task;
      if (Date.now() >= deadline) {
        throw new TimeoutError(
          `task ${id} (${task.type}) is still ${task.status} after ${timeoutMs} ms`,
          timeoutMs,
        );
      }
      const wait = Math.min(options.intervalMs ?? 250, Math.max(0, deadline - Date.now()));
      await sleep(wait, options.signal);
    }
  }
}

/** `client.workers`: worker hosts. */
export class WorkersApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** One page of workers. */
  list(options: ListWorkersOptions = {}): Promise<Page<Worker>> {
    return this.#t.requestChecked(pageSchema(workerSchema), "GET", "/workers", {
      query: { ...pageQuery(options), status: list(options.status), zone: options.zone },
      signal: options.signal,
    });
  }

  /** Worker `id`. */
  async get(id: string, options: { signal?: AbortSignal } = {}): Promise<Worker> {
    return (
      await this.#t.requestChecked(workerResponseSchema, "GET", `/workers/${seg(id)}`, {
        signal: options.signal,
      })
    ).worker;
  }

  /** Sets worker `id` to drain: it keeps its sandboxes and takes no new ones (admin scope). */
  async drain(id: string, options: { signal?: AbortSignal } = {}): Promise<Worker> {
    return (
      await this.#t.requestChecked(workerResponseSchema, "POST", `/workers/${seg(id)}/drain`, {
        signal: options.signal,
      })
    ).worker;
  }

  /** Makes a draining worker take new sandboxes again (admin scope). */
  async activate(id: string, options: { signal?: AbortSignal } = {}): Promise<Worker> {
    return (
      await this.#t.requestChecked(workerResponseSchema, "POST", `/workers/${seg(id)}/activate`, {
        signal: options.signal,
      })
    ).worker;
  }
}

/** `client.cluster`: fleet-wide totals. */
export class ClusterApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** Workers, capacity, usage, sandboxes by status and queue depths. */
  stats(options: { signal?: AbortSignal } = {}): Promise<ClusterStats> {
    return this.#t.requestChecked(clusterStatsSchema, "GET", "/cluster/stats", {
      signal: options.signal,
    });
  }
}

/** `client.backends`: the sandbox backends the fleet offers. */
export class BackendsApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /**
   * Every backend kind with whether an active worker offers it now (and how many do), the
   * configured default (`auto` or one backend) and the backend a create naming none gets now.
   * A create naming a backend no active worker offers is refused with `BadRequestError`.
   */
  list(options: { signal?: AbortSignal } = {}): Promise<BackendsResponse> {
    return this.#t.requestChecked(backendsResponseSchema, "GET", "/backends", {
      signal: options.signal,
    });
  }
}

/** `client.apiKeys`: API keys (admin scope). */
export class ApiKeysApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** Creates a key; `secret` is shown this one time only. Scopes default to read + write. */
  create(
    body: { name: string; scopes?: readonly ApiKeyScope[] },
    options: { signal?: AbortSignal } = {},
  ): Promise<CreateApiKeyResponse> {
    return this.#t.requestChecked(createApiKeyResponseSchema, "POST", "/api-keys", {
      body: { name: body.name, ...(body.scopes && { scopes: [...body.scopes] }) },
      signal: options.signal,
    });
  }

  /** One page of keys (metadata only, never secrets). */
  list(options: ListOptions = {}): Promise<Page<ApiKey>> {
    return this.#t.requestChecked(pageSchema(apiKeySchema), "GET", "/api-keys", {
      query: pageQuery(options),
      signal: options.signal,
    });
  }

  /** Revokes key `id`: requests with it fail with `AuthError` from now on. */
  async revoke(id: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#t.request("DELETE", `/api-keys/${seg(id)}`, { signal: options.signal });
  }
}

/** `client.events`: the live event stream. */
export class EventsApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /**
   * Calls `onEvent` for every domain event matching `query.topics` (`vm`, `task.failed`…) until
   * `close()`; reconnects with backoff after a drop (events in between are not replayed).
   */
  subscribe(
    query: SubscribeQuery,
    onEvent: (event: DomainEvent) => void,
    options: SubscribeOptions = {},
  ): EventSubscription {
    return subscribeEvents(this.#t, query, onEvent, options);
  }
}

/**
 * The typed client of the Aetherium API.
 *
 * ```ts
 * const client = new AetheriumClient({ url: "http://127.0.0.1:8080", apiKey });
 * const sandbox = await client.vms.create({ name: "demo" }, { wait: true });
 * const run = await sandbox.exec("echo hello");
 * await sandbox.delete();
 * ```
 */
export class AetheriumClient {
  readonly #t: Transport;
  /** Sandboxes. */
  readonly vms: VmsApi;
  /** Recorded executions. */
  readonly executions: ExecutionsApi;
  /** Durable tasks. */
  readonly tasks: TasksApi;
  /** Worker hosts. */
  readonly workers: WorkersApi;
  /** Fleet totals. */
  readonly cluster: ClusterApi;
  /** Sandbox backends the fleet offers. */
  readonly backends: BackendsApi;
  /** API keys. */
  readonly apiKeys: ApiKeysApi;
  /** The live event stream. */
  readonly events: EventsApi;

  constructor(options: ClientOptions) {
    this.#t = new Transport(options);
    this.vms = new VmsApi(this.#t);
    this.executions = new ExecutionsApi(this.#t);
    this.tasks = new TasksApi(this.#t);
    this.workers = new WorkersApi(this.#t);
    this.cluster = new ClusterApi(this.#t);
    this.backends = new BackendsApi(this.#t);
    this.apiKeys = new ApiKeysApi(this.#t);
    this.events = new EventsApi(this.#t);
  }

  /** The gateway's base URL, without trailing slash. */
  get url(): string {
    return this.#t.baseUrl;
  }

  /**
   * Sends one request to `/api/v1<path>` and returns the decoded JSON body, or throws the SDK error
   * for the answer. For routes the namespaces do not cover yet.
   */
  request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return this.#t.request<T>(method, path, options);
  }

  /** Platform health; open without an API key. */
  health(options: { signal?: AbortSignal } = {}): Promise<HealthResponse> {
    // 503 still carries the report: which required component is down is the point of asking.
    return this.#t.requestChecked(healthResponseSchema, "GET", "/health", {
      signal: options.signal,
      acceptStatus: [503],
    });
  }
}
