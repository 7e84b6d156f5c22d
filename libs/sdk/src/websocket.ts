/**
 * Finding a WebSocket implementation and opening authenticated sockets, the same way in browsers
 * and in Node.
 * @module
 */
import { errorCodeForStatus } from "@aetherium/types";
import { NetworkError, errorFromCode, type AetheriumApiError } from "./errors.js";

/** What an event handed to a {@link WebSocketLike} listener may carry (browser, undici and `ws` alike). */
export interface WebSocketEventLike {
  /** `message`: the frame's payload (a string for text frames). */
  readonly data?: unknown;
  /** `close`: the close code. */
  readonly code?: number;
  /** `close`: the close reason. */
  readonly reason?: string;
  /** `error` (`ws`, undici): what went wrong. */
  readonly message?: string;
  /** `error` (`ws`, undici): the underlying error. */
  readonly error?: unknown;
}

/**
 * The part of the WHATWG `WebSocket` the SDK uses. Browsers' `WebSocket`, Node 22's global one and
 * the `ws` package all fit. Methods (not function-typed properties) so that each implementation's
 * own event types are accepted.
 */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Sends a text frame. */
  send(data: string): void;
  /** Closes the socket. */
  close(code?: number, reason?: string): void;
  /** Listens to `open`, `message`, `close` or `error`. */
  addEventListener(type: string, listener: (event: WebSocketEventLike) => void): void;
}

/** A WebSocket class: `new WebSocket(url, protocols)`; `ws` also takes an options object third. */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/** Subprotocol the gateway selects; the key rides along as `bearer.<key>` (browsers cannot set headers). */
export const WS_PROTOCOL = "aetherium.v1";

/** `readyState` of an open socket. */
export const WS_OPEN = 1;

interface ResolvedWebSocket {
  readonly ctor: WebSocketConstructor;
  /** True for the `ws` package, which can also send an `Authorization` header. */
  readonly sendsHeaders: boolean;
}

let nodeWs: Promise<ResolvedWebSocket> | undefined;

/**
 * The WebSocket class to use: the one given, else `globalThis.WebSocket` (browsers, Node ≥ 22), else
 * the `ws` package (Node 20), loaded only then.
 */
export function resolveWebSocket(given?: WebSocketConstructor): Promise<ResolvedWebSocket> {
  if (given) return Promise.resolve({ ctor: given, sendsHeaders: false });
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return Promise.resolve({ ctor: global, sendsHeaders: false });
  nodeWs ??= loadWsPackage();
  return nodeWs;
}

async function loadWsPackage(): Promise<ResolvedWebSocket> {
  // A variable specifier and the ignore hints keep bundlers from pulling `ws` into browser builds;
  // only Node without a global WebSocket ever reaches this line.
  const specifier = "ws";
  try {
    const mod = (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as {
      WebSocket?: WebSocketConstructor;
      default?: WebSocketConstructor;
    };
    const ctor = mod.WebSocket ?? mod.default;
    if (!ctor) throw new Error("the ws package exports no WebSocket");
    return { ctor, sendsHeaders: true };
  } catch (err) {
    nodeWs = undefined;
    throw new NetworkError(
      `no WebSocket implementation: use Node 22+, install the 'ws' package, or pass options.WebSocket (${String(err)})`,
      "network",
      0,
    );
  }
}

/** `ws(s)://…` form of an `http(s)://…` base URL plus `path`. */
export function toWebSocketUrl(base: string, path: string): string {
  const url = new URL(base.replace(/\/+$/, "") + path);
  if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol === "http:") url.protocol = "ws:";
  return url.toString();
}

/** Subprotocols to offer: ours, and the key as `bearer.<key>` when there is one. */
export function webSocketProtocols(apiKey: string | undefined): string[] {
  return apiKey ? [WS_PROTOCOL, `bearer.${apiKey}`] : [WS_PROTOCOL];
}

/**
 * The SDK error for a socket that failed before opening. `ws` and undici name the HTTP status of a
 * refused handshake in their message ("Unexpected server response: 401"); browsers say nothing, so
 * that case is a plain {@link NetworkError}.
 */
export function handshakeError(
  event: WebSocketEventLike | undefined,
  url: string,
): AetheriumApiError {
  const text =
    event?.message ?? (event?.error instanceof Error ? event.error.message : undefined) ?? "";
  const status = /\b([45]\d\d)\b/.exec(text)?.[1];
  if (status) {
    const n = Number(status);
    const code = errorCodeForStatus(n);
    const hint =
      n === 401 || n === 403 ? "the API key was refused" : n === 404 ? "not found" : `HTTP ${n}`;
    return errorFromCode(code, `WebSocket ${url} refused: ${hint}`, n);
  }
  return new NetworkError(
    `cannot open WebSocket ${url}${text ? ` (${text})` : ""}; is Aetherium running? start it with 'npm start'`,
    "network",
    0,
  );
}

/**
 * A socket that keeps the events arriving before its user listens. A server may send its first
 * message (or an error and a close) in the same packet as the handshake answer; `ws` then fires
 * `open`, `message` and `close` in one tick, before the code awaiting the open can add listeners.
 * Events are queued in order and handed out a microtask after listeners are added.
 */
class BufferedSocket implements WebSocketLike {
  readonly #raw: WebSocketLike;
  readonly #listeners = new Map<string, Set<(event: WebSocketEventLike) => void>>();
  readonly #queue: [string, WebSocketEventLike][] = [];
  #flushing = false;
  #live = false;

  constructor(raw: WebSocketLike) {
    this.#raw = raw;
    for (const type of ["message", "close", "error"]) {
      raw.addEventListener(type, (event) => {
        if (this.#live && this.#queue.length === 0) this.#dispatch(type, event);
        else this.#queue.push([type, event]);
      });
    }
  }

  get readyState(): number {
    return this.#raw.readyState;
  }

  send(data: string): void {
    this.#raw.send(data);
  }

  close(code?: number, reason?: string): void {
    this.#raw.close(code, reason);
  }

  addEventListener(type: string, listener: (event: WebSocketEventLike) => void): void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
    if (this.#flushing) return;
    this.#flushing = true;
    queueMicrotask(() => {
      this.#flushing = false;
      this.#live = true;
      for (const [t, e] of this.#queue.splice(0)) this.#dispatch(t, e);
    });
  }

  #dispatch(type: string, event: WebSocketEventLike): void {
    for (const listener of this.#listeners.get(type) ?? []) listener(event);
  }
}

/** Opens a socket with the key as subprotocol (and header where possible); resolves once open. */
export async function openWebSocket(
  options: { ctor?: WebSocketConstructor; apiKey?: string | undefined },
  url: string,
  signal?: AbortSignal,
): Promise<WebSocketLike> {
  const { ctor, sendsHeaders } = await resolveWebSocket(options.ctor);
  const headers: Record<string, string> = {};
  if (sendsHeaders && options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  let socket: WebSocketLike;
  try {
    socket = sendsHeaders
      ? new ctor(url, webSocketProtocols(options.apiKey), { headers })
      : new ctor(url, webSocketProtocols(options.apiKey));
  } catch (err) {
    throw new NetworkError(`cannot open WebSocket ${url}: ${String(err)}`, "network", 0);
  }
  // Wrapped before anything can arrive, so no event is lost between `open` and the caller's listeners.
  const buffered = new BufferedSocket(socket);
  return new Promise<WebSocketLike>((resolve, reject) => {
    let settled = false;
    const fail = (err: AetheriumApiError) => {
      if (settled) return;
      settled = true;
      try {
        socket.close();
      } catch {
        // already closed
      }
      reject(err);
    };
    socket.addEventListener("open", () => {
      if (settled) return;
      settled = true;
      resolve(buffered);
    });
    socket.addEventListener("error", (event) => fail(handshakeError(event, url)));
    socket.addEventListener("close", (event) =>
      fail(
        new NetworkError(
          `WebSocket ${url} closed before opening (code ${event.code ?? "?"})`,
          "network",
          0,
        ),
      ),
    );
    signal?.addEventListener("abort", () => fail(errorFromCode("aborted", "aborted", 0)), {
      once: true,
    });
  });
}
