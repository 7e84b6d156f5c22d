import {
  AetheriumApiError,
  AuthError,
  BadRequestError,
  ConflictError,
  NetworkError,
  NotFoundError,
  RateLimitError,
  UnavailableError,
} from "./errors.js";

/** How to reach a gateway. */
export interface ClientOptions {
  /** Base URL of the gateway, e.g. `http://127.0.0.1:8080` (no `/api/v1`). */
  readonly url: string;
  /** An API key; sent as `Authorization: Bearer <key>`. */
  readonly apiKey?: string;
  /** A fetch implementation; the global one by default (Node 20 and browsers have it). */
  readonly fetch?: typeof fetch;
}

/** `GET /api/v1/health` response. */
export interface HealthResponse {
  readonly status: "ok" | "degraded";
  readonly components: Record<string, unknown>;
}

interface Envelope {
  error?: { code?: string; message?: string; details?: unknown };
  requestId?: string;
}

/** Turns a gateway error response into the matching SDK error. */
export function errorFromResponse(
  status: number,
  body: unknown,
  retryAfter?: string | null,
): AetheriumApiError {
  const env = (typeof body === "object" && body !== null ? body : {}) as Envelope;
  const code = env.error?.code ?? (status >= 500 ? "internal" : "bad_request");
  const message = env.error?.message ?? `request failed with HTTP ${status}`;
  const args = [message, code, status, env.requestId, env.error?.details] as const;
  switch (code) {
    case "bad_request":
    case "payload_too_large":
      return new BadRequestError(...args);
    case "unauthorized":
    case "forbidden":
      return new AuthError(...args);
    case "not_found":
      return new NotFoundError(...args);
    case "conflict":
      return new ConflictError(...args);
    case "rate_limited": {
      const sec = retryAfter ? Number(retryAfter) : undefined;
      return new RateLimitError(...args, Number.isFinite(sec) ? sec : undefined);
    }
    case "unavailable":
      return new UnavailableError(...args);
    default:
      return new AetheriumApiError(...args);
  }
}

/**
 * The typed client of the Aetherium API. Each resource gets its own namespace as the API grows
 * (`client.vms`, `client.tasks`…); all of them go through {@link AetheriumClient.request}.
 */
export class AetheriumClient {
  readonly #base: string;
  readonly #apiKey: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(options: ClientOptions) {
    this.#base = options.url.replace(/\/+$/, "");
    this.#apiKey = options.apiKey;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Sends one request to `/api/v1<path>` and returns the decoded JSON body, or throws. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.#fetch(`${this.#base}/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
      });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new NetworkError(
        `cannot reach Aetherium at ${this.#base} (${reason}); is it running? start it with 'npm start'`,
        "network",
        0,
      );
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!res.ok) throw errorFromResponse(res.status, parsed, res.headers.get("retry-after"));
    return parsed as T;
  }

  /** Platform health; open without an API key. */
  health(): Promise<HealthResponse> {
    return this.request<HealthResponse>("GET", "/health");
  }
}
