import { healthResponseSchema } from "@aetherium/types";
import { ApiKeysApi } from "./api-keys-api.js";
import { IntegrationsApi } from "./integrations-api.js";
import { EnvironmentsApi } from "./environments-api.js";
import { SecretsApi } from "./secrets-api.js";
import { WorkspacesApi } from "./workspaces-api.js";
import { BackendsApi } from "./backends-api.js";
import { ClusterApi } from "./cluster-api.js";
import { EventsApi } from "./events-api.js";
import { PromptsApi } from "./prompts-api.js";
import { ExecutionsApi } from "./executions-api.js";
import { TasksApi } from "./tasks-api.js";
import { Transport, type RequestOptions } from "./transport.js";
import { VmsApi } from "./vms-api.js";
import type { WebSocketConstructor } from "./websocket.js";
import { WorkersApi } from "./workers-api.js";

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
  /** Requests GitHub, Slack and Discord sent. */
  readonly integrations: IntegrationsApi;
  /** Prompts to workspaces' agents, their live sessions and history. */
  readonly prompts: PromptsApi;
  /** Environments (workspace templates). */
  readonly environments: EnvironmentsApi;
  /** Global secrets (write-only values). */
  readonly secrets: SecretsApi;
  /** Workspaces for coding agents, their preparation steps and their own secrets. */
  readonly workspaces: WorkspacesApi;

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
    this.integrations = new IntegrationsApi(this.#t);
    this.prompts = new PromptsApi(this.#t);
    this.environments = new EnvironmentsApi(this.#t);
    this.secrets = new SecretsApi(this.#t);
    this.workspaces = new WorkspacesApi(this.#t);
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
