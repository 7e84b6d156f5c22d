/**
 * The dashboard's data layer: every call the UI makes to the gateway, in one place, through
 * `@aetherium/sdk`. Pages never build URLs themselves, so moving to the SDK's resource namespaces
 * as they land is a change here only.
 * @module
 */
import { AetheriumApiError, AetheriumClient, AuthError, errorFromResponse } from "@aetherium/sdk";
import type {
  ApiKey,
  ApiKeyScope,
  ClusterStats,
  CreateApiKeyResponse,
  CreateVmAcceptedResponse,
  CreateVmBody,
  Environment,
  Execution,
  FileListResponse,
  FileWriteResponse,
  HealthResponse,
  Page,
  Task,
  Vm,
  Worker,
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
  readonly label?: readonly string[];
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

/** True for an error meaning "this gateway has no such route yet" (404 on a list route). */
export function isMissingRoute(err: unknown): boolean {
  return err instanceof AetheriumApiError && err.status === 404;
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

  #unauthorized(err: unknown): void {
    if (err instanceof AuthError && err.status === 401) this.#onUnauthorized?.();
  }

  /** A JSON request to `/api/v1<path>`. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    try {
      return await this.#client.request<T>(method, path, body === undefined ? {} : { body });
    } catch (err) {
      this.#unauthorized(err);
      throw err;
    }
  }

  /** A request whose body and answer are bytes (files). */
  async #bytes(method: string, path: string, body?: Uint8Array): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiKey}` };
    if (body) headers["content-type"] = "application/octet-stream";
    const res = await this.#fetch(`${this.url}/api/v1${path}`, {
      method,
      headers,
      // An ArrayBuffer copy: a body type both the DOM and Node's fetch typings accept.
      body: body
        ? (body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer)
        : null,
    });
    if (!res.ok) {
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      const err = errorFromResponse(res.status, parsed, res.headers.get("retry-after"));
      this.#unauthorized(err);
      throw err;
    }
    return res;
  }

  // Health and cluster
  health(): Promise<HealthResponse> {
    return this.request("GET", "/health");
  }
  clusterStats(): Promise<ClusterStats> {
    return this.request("GET", "/cluster/stats");
  }

  // Sandboxes
  listVms(q: VmListQuery = {}): Promise<Page<Vm>> {
    return this.request("GET", `/vms${queryString({ limit: 200, ...q })}`);
  }
  async getVm(id: string): Promise<Vm> {
    return (await this.request<{ vm: Vm }>("GET", `/vms/${encodeURIComponent(id)}`)).vm;
  }
  createVm(body: CreateVmBody): Promise<CreateVmAcceptedResponse> {
    return this.request("POST", "/vms", body);
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
  listExecutions(vmId: string, limit = 100): Promise<Page<Execution>> {
    return this.request(
      "GET",
      `/vms/${encodeURIComponent(vmId)}/executions${queryString({ limit })}`,
    );
  }
  async execute(vmId: string, command: string): Promise<Execution> {
    const r = await this.request<{ execution: Execution }>(
      "POST",
      `/vms/${encodeURIComponent(vmId)}/execute`,
      { command },
    );
    return r.execution;
  }

  // Files
  listFiles(vmId: string, path: string): Promise<FileListResponse> {
    return this.request(
      "GET",
      `/vms/${encodeURIComponent(vmId)}/files/list${queryString({ path })}`,
    );
  }
  async readFile(vmId: string, path: string): Promise<Uint8Array> {
    const res = await this.#bytes(
      "GET",
      `/vms/${encodeURIComponent(vmId)}/files${queryString({ path })}`,
    );
    return new Uint8Array(await res.arrayBuffer());
  }
  async writeFile(vmId: string, path: string, bytes: Uint8Array): Promise<FileWriteResponse> {
    const res = await this.#bytes(
      "PUT",
      `/vms/${encodeURIComponent(vmId)}/files${queryString({ path })}`,
      bytes,
    );
    const text = await res.text();
    return text ? (JSON.parse(text) as FileWriteResponse) : { path, size: bytes.length };
  }
  async removeFile(vmId: string, path: string): Promise<void> {
    await this.#bytes("DELETE", `/vms/${encodeURIComponent(vmId)}/files${queryString({ path })}`);
  }

  // Tasks
  listTasks(q: TaskListQuery = {}): Promise<Page<Task>> {
    return this.request("GET", `/tasks${queryString({ limit: 200, ...q })}`);
  }
  async getTask(id: string): Promise<Task> {
    return (await this.request<{ task: Task }>("GET", `/tasks/${encodeURIComponent(id)}`)).task;
  }
  async cancelTask(id: string): Promise<Task> {
    return (
      await this.request<{ task: Task }>("POST", `/tasks/${encodeURIComponent(id)}/cancel`, {})
    ).task;
  }

  // Workers
  listWorkers(): Promise<Page<Worker>> {
    return this.request("GET", `/workers${queryString({ limit: 500 })}`);
  }
  async drainWorker(id: string): Promise<Worker> {
    return (
      await this.request<{ worker: Worker }>("POST", `/workers/${encodeURIComponent(id)}/drain`, {})
    ).worker;
  }
  async activateWorker(id: string): Promise<Worker> {
    return (
      await this.request<{ worker: Worker }>(
        "POST",
        `/workers/${encodeURIComponent(id)}/activate`,
        {},
      )
    ).worker;
  }

  // API keys
  listApiKeys(): Promise<Page<ApiKey>> {
    return this.request("GET", `/api-keys${queryString({ limit: 500 })}`);
  }
  createApiKey(name: string, scopes: ApiKeyScope[]): Promise<CreateApiKeyResponse> {
    return this.request("POST", "/api-keys", { name, scopes });
  }
  async revokeApiKey(id: string): Promise<void> {
    await this.request("DELETE", `/api-keys/${encodeURIComponent(id)}`);
  }

  // Environments, workspaces, prompts (the workspaces API arrives with its issue)
  listEnvironments(): Promise<Page<Environment>> {
    return this.request("GET", `/environments${queryString({ limit: 200 })}`);
  }
  listWorkspaces(): Promise<Page<Record<string, unknown>>> {
    return this.request("GET", `/workspaces${queryString({ limit: 200 })}`);
  }
  listPrompts(workspaceId: string): Promise<Page<Record<string, unknown>>> {
    return this.request("GET", `/workspaces/${encodeURIComponent(workspaceId)}/prompts`);
  }

  // OpenAPI and the explorer
  openapi(): Promise<unknown> {
    return this.request("GET", "/openapi.json");
  }
  /** Sends any request and returns the answer as text, whatever its status (API explorer). */
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
