/**
 * The dashboard's data layer: every call the UI makes to the gateway, in one place, through
 * `@aetherium/sdk`. Pages never build URLs themselves, so moving to the SDK's resource namespaces
 * as they land is a change here only.
 * @module
 */
import {
  AetheriumApiError,
  AetheriumClient,
  AuthError,
  type EventSubscription,
  type CreateWorkspaceRequest,
  type ExecSession,
  type RunPromptOptions,
  type Sandbox,
  type SpawnOptions,
  type SubscribeOptions,
} from "@aetherium/sdk";
import type {
  ApiKey,
  ApiKeyScope,
  BackendsResponse,
  ClusterStats,
  CreateApiKeyResponse,
  CreateVmAcceptedResponse,
  CreateVmBody,
  CreateEnvironmentBody,
  Environment,
  Execution,
  FileListResponse,
  FileWriteResponse,
  HealthResponse,
  IntegrationDelivery,
  IntegrationName,
  Page,
  Prompt,
  SubmitPromptInput,
  Task,
  TaskStatus,
  TaskType,
  Vm,
  VmStatus,
  Worker,
  Workspace,
} from "@aetherium/types";

export type QueryValue = string | number | boolean | readonly string[] | undefined | null;

/** `?a=1&b=x&b=y`; undefined, null and empty values are left out. */
export function queryString(query: Readonly<Record<string, QueryValue>> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) for (const x of v as readonly string[]) params.append(k, x);
    else params.append(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}

export interface ApiOptions {
  /** Gateway base URL, without `/api/v1`. */
  readonly url: string;
  readonly apiKey: string;
  /** Called once per 401 answer: the key is no longer accepted. */
  readonly onUnauthorized?: () => void;
  readonly fetch?: typeof fetch;
}

export interface VmListQuery {
  readonly status?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly workerId?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

export interface TaskListQuery {
  readonly status?: readonly string[];
  readonly type?: readonly string[];
  readonly vmId?: string;
  readonly workerId?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

/** A raw answer, for the API explorer. */
export interface RawResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly durationMs: number;
}

/** One sentence for an error, for error states and toasts. */
export function errorMessage(err: unknown): string {
  if (err instanceof AetheriumApiError) {
    return err.status > 0 ? `${err.message} (HTTP ${err.status})` : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

export class Api {
  readonly url: string;
  readonly apiKey: string;
  readonly #client: AetheriumClient;
  readonly #fetch: typeof fetch;
  readonly #onUnauthorized: (() => void) | undefined;
  /** SDK sandbox handles by id: file calls go through them. */
  readonly #handles = new Map<string, Sandbox>();

  constructor(options: ApiOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.apiKey = options.apiKey;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#client = new AetheriumClient({
      url: this.url,
      apiKey: options.apiKey,
      fetch: this.#fetch,
    });
    this.#onUnauthorized = options.onUnauthorized;
  }

  /** Runs one SDK call; a 401 means the key is gone, which logs the dashboard out. */
  async #call<T>(fn: (c: AetheriumClient) => Promise<T>): Promise<T> {
    try {
      return await fn(this.#client);
    } catch (err) {
      if (err instanceof AuthError && err.status === 401) this.#onUnauthorized?.();
      throw err;
    }
  }

  /** A JSON request to `/api/v1<path>` for routes the SDK's namespaces do not cover. */
  request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.#call((c) => c.request<T>(method, path, body === undefined ? {} : { body }));
  }

  async #sandbox(id: string): Promise<Sandbox> {
    const known = this.#handles.get(id);
    if (known) return known;
    const sb = await this.#call((c) => c.vms.get(id));
    this.#handles.set(id, sb);
    return sb;
  }

  // Health and cluster
  health(): Promise<HealthResponse> {
    return this.#call((c) => c.health());
  }
  clusterStats(): Promise<ClusterStats> {
    return this.#call((c) => c.cluster.stats());
  }
  backends(): Promise<BackendsResponse> {
    return this.#call((c) => c.backends.list());
  }

  // Sandboxes
  listVms(q: VmListQuery = {}): Promise<Page<Vm>> {
    return this.#call((c) =>
      c.vms.list({
        limit: q.limit ?? 200,
        ...(q.cursor ? { cursor: q.cursor } : {}),
        ...(q.status?.length ? { status: q.status as VmStatus[] } : {}),
        ...(q.labels && Object.keys(q.labels).length ? { labels: q.labels } : {}),
        ...(q.workerId ? { workerId: q.workerId } : {}),
      }),
    );
  }
  async getVm(id: string): Promise<Vm> {
    const sb = await this.#call((c) => c.vms.get(id));
    this.#handles.set(id, sb);
    return sb.vm;
  }
  async createVm(body: CreateVmBody): Promise<CreateVmAcceptedResponse> {
    const sb = await this.#call((c) => c.vms.create(body));
    this.#handles.set(sb.id, sb);
    return { vm: sb.vm, taskId: sb.taskId ?? "" };
  }
  deleteVm(id: string): Promise<{ taskId: string }> {
    return this.request("DELETE", `/vms/${encodeURIComponent(id)}`);
  }
  stopVm(id: string): Promise<{ taskId: string }> {
    return this.request("POST", `/vms/${encodeURIComponent(id)}/stop`, {});
  }
  startVm(id: string): Promise<{ taskId: string }> {
    return this.request("POST", `/vms/${encodeURIComponent(id)}/start`, {});
  }
  setVmTimeout(id: string, timeoutSec: number): Promise<{ vm: Vm }> {
    return this.request("POST", `/vms/${encodeURIComponent(id)}/timeout`, { timeoutSec });
  }
  async listExecutions(vmId: string, limit = 100): Promise<Page<Execution>> {
    const sb = await this.#sandbox(vmId);
    return this.#call(() => sb.executions({ limit }));
  }

  /** Starts `command` over the exec WebSocket (a PTY with `pty`): write, resize, signal, wait. */
  async spawn(vmId: string, command: string, options: SpawnOptions = {}): Promise<ExecSession> {
    const sb = await this.#sandbox(vmId);
    return this.#call(() => sb.spawn(command, options));
  }

  /** The live event stream; the SDK reconnects with backoff after a drop. */
  subscribe(
    topics: readonly string[],
    onEvent: (event: { type: string; at: string; data: unknown }) => void,
    options: SubscribeOptions = {},
  ): EventSubscription {
    return this.#client.events.subscribe({ topics }, onEvent, options);
  }

  // Files
  async listFiles(vmId: string, path: string): Promise<FileListResponse> {
    const sb = await this.#sandbox(vmId);
    return { path, entries: await this.#call(() => sb.files.list(path)) };
  }
  async readFile(vmId: string, path: string): Promise<Uint8Array> {
    const sb = await this.#sandbox(vmId);
    return this.#call(() => sb.files.read(path));
  }
  async writeFile(vmId: string, path: string, bytes: Uint8Array): Promise<FileWriteResponse> {
    const sb = await this.#sandbox(vmId);
    return this.#call(() => sb.files.write(path, bytes));
  }
  async removeFile(vmId: string, path: string): Promise<void> {
    const sb = await this.#sandbox(vmId);
    await this.#call(() => sb.files.remove(path));
  }

  // Tasks
  listTasks(q: TaskListQuery = {}): Promise<Page<Task>> {
    return this.#call((c) =>
      c.tasks.list({
        limit: q.limit ?? 200,
        ...(q.cursor ? { cursor: q.cursor } : {}),
        ...(q.status?.length ? { status: q.status as TaskStatus[] } : {}),
        ...(q.type?.length ? { type: q.type as TaskType[] } : {}),
        ...(q.vmId ? { vmId: q.vmId } : {}),
        ...(q.workerId ? { workerId: q.workerId } : {}),
      }),
    );
  }
  getTask(id: string): Promise<Task> {
    return this.#call((c) => c.tasks.get(id));
  }
  cancelTask(id: string): Promise<Task> {
    return this.#call((c) => c.tasks.cancel(id));
  }

  // Workers
  listWorkers(): Promise<Page<Worker>> {
    return this.#call((c) => c.workers.list({ limit: 500 }));
  }
  drainWorker(id: string): Promise<Worker> {
    return this.#call((c) => c.workers.drain(id));
  }
  activateWorker(id: string): Promise<Worker> {
    return this.#call((c) => c.workers.activate(id));
  }

  // Integrations
  listIntegrationDeliveries(
    integration?: IntegrationName,
    cursor?: string,
  ): Promise<Page<IntegrationDelivery>> {
    return this.#call((c) =>
      c.integrations.deliveries({
        limit: 100,
        ...(integration ? { integration } : {}),
        ...(cursor ? { cursor } : {}),
      }),
    );
  }

  // API keys
  listApiKeys(): Promise<Page<ApiKey>> {
    return this.#call((c) => c.apiKeys.list({ limit: 500 }));
  }
  createApiKey(
    name: string,
    scopes: ApiKeyScope[],
    format: "aetherium" | "e2b" = "aetherium",
  ): Promise<CreateApiKeyResponse> {
    return this.#call((c) => c.apiKeys.create({ name, scopes, format }));
  }
  revokeApiKey(id: string): Promise<void> {
    return this.#call((c) => c.apiKeys.revoke(id));
  }

  // Environments and workspaces (made from an environment; live updates come from the events).
  listEnvironments(): Promise<Page<Environment>> {
    return this.#call((c) => c.environments.list({ limit: 200 }));
  }
  createEnvironment(body: CreateEnvironmentBody): Promise<Environment> {
    return this.#call((c) => c.environments.create(body));
  }
  deleteEnvironment(id: string): Promise<void> {
    return this.#call((c) => c.environments.delete(id));
  }
  listWorkspaces(): Promise<Page<Workspace>> {
    return this.#call((c) => c.workspaces.list({ limit: 200 }));
  }
  getWorkspace(id: string): Promise<Workspace> {
    return this.#call((c) => c.workspaces.get(id));
  }
  /** Answers at once (status `creating`): the detail page follows the preparation steps. */
  createWorkspace(body: CreateWorkspaceRequest): Promise<Workspace> {
    return this.#call((c) => c.workspaces.create(body));
  }
  deleteWorkspace(id: string): Promise<void> {
    return this.#call((c) => c.workspaces.delete(id));
  }

  // Prompts to a workspace's agent.
  listPrompts(workspaceId: string): Promise<Page<Prompt>> {
    return this.#call((c) => c.prompts.list(workspaceId, { limit: 20 }));
  }
  /** Sends a prompt over the workspace's session and streams its answer; resolves when it ends. */
  runPrompt(
    workspaceId: string,
    input: SubmitPromptInput,
    options: RunPromptOptions,
  ): Promise<Prompt> {
    return this.#call((c) => c.prompts.run(workspaceId, input, options));
  }

  // OpenAPI and the explorer
  openapi(): Promise<unknown> {
    return this.request("GET", "/openapi.json");
  }
  /**
   * Sends any request and returns the answer as text, whatever its status: the API explorer shows
   * raw answers, errors included, which is what the SDK exists to hide.
   */
  async raw(method: string, pathAndQuery: string, body?: string): Promise<RawResponse> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.apiKey}`,
      accept: "application/json",
    };
    if (body) headers["content-type"] = "application/json";
    const t0 = performance.now();
    const res = await this.#fetch(`${this.url}${pathAndQuery}`, {
      method,
      headers,
      body: body || null,
    });
    const text = await res.text();
    const h: Record<string, string> = {};
    res.headers.forEach((v, k) => (h[k] = v));
    return {
      status: res.status,
      statusText: res.statusText,
      headers: h,
      body: text,
      durationMs: performance.now() - t0,
    };
  }
}
