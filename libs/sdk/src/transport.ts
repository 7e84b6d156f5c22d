/**
 * The HTTP and WebSocket plumbing every namespace of the client shares.
 * @module
 */
import type { z } from "zod";
import {
  AbortError,
  AetheriumApiError,
  ContractError,
  NetworkError,
  errorFromResponse,
} from "./errors.js";
import {
  openWebSocket,
  toWebSocketUrl,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./websocket.js";

/** A query string value: repeated for arrays, left out when undefined. */
export type QueryValue = string | number | boolean | readonly string[] | undefined | null;

/** Options of one request. */
export interface RequestOptions {
  /** A JSON body. */
  readonly body?: unknown;
  /** A binary body, sent as `application/octet-stream` (file writes). */
  readonly bytes?: Uint8Array;
  /** Query parameters. */
  readonly query?: Readonly<Record<string, QueryValue>>;
  /** Extra headers (`Idempotency-Key`…). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Cancels the request. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Error statuses whose body is the answer rather than an error envelope (`GET /health` answers
   * 503 with its report when a required component is down).
   */
  readonly acceptStatus?: readonly number[];
}

/** `?a=1&b=x&b=y` for `{a: 1, b: ["x", "y"]}`; empty string when nothing is set. */
export function buildQuery(query: Readonly<Record<string, QueryValue>> | undefined): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const v of value as readonly string[]) params.append(key, v);
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** `encodeURIComponent` for one path segment (an id). */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

/**
 * Checks `value` against `schema` and returns it unchanged: fields a newer gateway adds are kept,
 * while a missing or mistyped field becomes a clear {@link ContractError} instead of an
 * `undefined` far from the call.
 */
export function checkShape<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({
      path: i.path.map(String).join("."),
      message: i.message,
    }));
    const first = issues[0];
    throw new ContractError(
      `unexpected response from ${what}${first ? `: ${first.path || "(body)"}: ${first.message}` : ""} (SDK and gateway versions may differ)`,
      "contract",
      0,
      undefined,
      issues,
    );
  }
  return value as z.output<S>;
}

/** Connection settings shared by every namespace. */
export interface TransportOptions {
  /** Gateway base URL (no `/api/v1`). */
  readonly url: string;
  /** The API key, if any. */
  readonly apiKey?: string | undefined;
  /** fetch to use; the global one by default. */
  readonly fetch?: typeof fetch | undefined;
  /** WebSocket class to use; see `resolveWebSocket`. */
  readonly WebSocket?: WebSocketConstructor | undefined;
}

/** Sends requests to `/api/v1…` of one gateway and opens its WebSockets. */
export class Transport {
  /** Base URL without trailing slash, e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  readonly #apiKey: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #ws: WebSocketConstructor | undefined;

  /** A transport for one gateway. */
  constructor(options: TransportOptions) {
    this.baseUrl = options.url.replace(/\/+$/, "");
    this.#apiKey = options.apiKey;
    // Looked up at call time, not bound at construction, so a test or polyfill may install one later.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#ws = options.WebSocket;
  }

  async #send(method: string, path: string, options: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    let body: string | Uint8Array | null = null;
    if (options.bytes !== undefined) {
      headers["content-type"] = "application/octet-stream";
      body = options.bytes;
    } else if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    let res: Response;
    try {
      res = await this.#fetch(`${this.baseUrl}/api/v1${path}${buildQuery(options.query)}`, {
        method,
        headers,
        body: body as RequestInit["body"],
        signal: options.signal ?? null,
      });
    } catch (err) {
      if (options.signal?.aborted) throw new AbortError();
      const reason = err instanceof Error ? describeFetchError(err) : String(err);
      throw new NetworkError(
        `cannot reach Aetherium at ${this.baseUrl} (${reason}); is it running? start it with 'npm start'`,
        "network",
        0,
      );
    }
    if (!res.ok && !options.acceptStatus?.includes(res.status)) {
      const text = await res.text().catch(() => "");
      throw errorFromResponse(res.status, parseJson(text), res.headers.get("retry-after"));
    }
    return res;
  }

  /** Sends one request to `/api/v1<path>` and returns the decoded JSON body (undefined if empty), or throws. */
  async request<T = unknown>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<T> {
    const res = await this.#send(method, path, options);
    const text = await res.text();
    return parseJson(text) as T;
  }

  /** Like {@link Transport.request} but checks the answer against `schema` (see {@link checkShape}). */
  async requestChecked<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<z.output<S>> {
    const body = await this.request(method, path, options);
    return checkShape(schema, body, `${method} ${path.split("?")[0] ?? path}`);
  }

  /** Sends one request and returns the raw response body bytes (file reads). */
  async requestBytes(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<Uint8Array> {
    const res = await this.#send(method, path, options);
    return new Uint8Array(await res.arrayBuffer());
  }

  /**
   * Opens an authenticated WebSocket to `/api/v1<path>`; resolves once it is open. Browsers (and
   * undici) do not say why a handshake was refused; then `probePath`, a cheap GET that needs the
   * same key and resource, is asked instead, so a bad key is an `AuthError` and a missing sandbox a
   * `NotFoundError` everywhere, not a bare network error.
   */
  async openSocket(path: string, signal?: AbortSignal, probePath?: string): Promise<WebSocketLike> {
    const url = toWebSocketUrl(this.baseUrl, `/api/v1${path}`);
    try {
      return await openWebSocket({ ctor: this.#ws, apiKey: this.#apiKey }, url, signal);
    } catch (err) {
      if (!(err instanceof NetworkError) || probePath === undefined) throw err;
      const refusal = await this.request("GET", probePath, { signal }).then(
        () => undefined,
        (probeErr: unknown) => probeErr,
      );
      if (refusal instanceof AetheriumApiError && refusal.status > 0) throw refusal;
      throw err;
    }
  }
}

function parseJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Node's fetch hides the useful part (`ECONNREFUSED`) in `cause`. */
function describeFetchError(err: Error): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === "string" ? `${code}` : cause.message;
  }
  return err.message;
}
