/**
 * The live event stream: one WebSocket to `GET /api/v1/events`, reopened with backoff when it drops.
 * DOM-free (the WebSocket class and timers are passed in) so its reconnect logic tests in Node.
 * @module
 */
import { backoffDelay, type BackoffOptions } from "./backoff.js";

/** The part of the WHATWG WebSocket used here. */
export interface SocketLike {
  readonly readyState: number;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type SocketFactory = (url: string, protocols: string[]) => SocketLike;

/** An event as the gateway streams it. */
export interface StreamEvent {
  readonly type: string;
  readonly at: string;
  readonly data: unknown;
}

/** `connecting` (first try or retrying), `open`, `closed` (stopped, or refused for good). */
export type StreamState = "connecting" | "open" | "closed";

export interface EventStreamOptions {
  readonly url: string;
  readonly protocols: string[];
  readonly createSocket: SocketFactory;
  readonly onEvent: (event: StreamEvent) => void;
  readonly onState?: (state: StreamState, info: { attempt: number; nextRetryMs?: number }) => void;
  /** Called when the server refuses the key (close code 4401 or 1008): no point retrying. */
  readonly onUnauthorized?: () => void;
  /** Called after a reconnect: events may have been missed, so the caller refetches. */
  readonly onResync?: () => void;
  readonly backoff?: BackoffOptions;
  readonly setTimer?: (fn: () => void, ms: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
}

/** Close codes meaning "your credentials are not accepted". */
const UNAUTHORIZED_CODES = new Set([4401, 4403, 1008]);

/** Parses one message; anything that is not a `{type, at, data}` JSON object is ignored. */
export function parseStreamMessage(data: unknown): StreamEvent | null {
  if (typeof data !== "string") return null;
  try {
    const v = JSON.parse(data) as Partial<StreamEvent> | null;
    if (v && typeof v.type === "string" && typeof v.at === "string") {
      return { type: v.type, at: v.at, data: v.data };
    }
  } catch {
    /* not JSON: ignored */
  }
  return null;
}

/** Opens the stream and keeps it open until `stop()`. */
export class EventStream {
  readonly #o: EventStreamOptions;
  #socket: SocketLike | null = null;
  #timer: unknown = null;
  #attempt = 0;
  #stopped = false;
  #everOpened = false;
  #state: StreamState = "closed";

  constructor(options: EventStreamOptions) {
    this.#o = options;
  }

  get state(): StreamState {
    return this.#state;
  }

  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) (this.#o.clearTimer ?? clearTimeout)(this.#timer as never);
    this.#timer = null;
    const s = this.#socket;
    this.#socket = null;
    if (s) {
      s.onclose = null;
      s.onmessage = null;
      s.onerror = null;
      s.onopen = null;
      s.close(1000, "stopped");
    }
    this.#setState("closed");
  }

  #setState(state: StreamState, nextRetryMs?: number): void {
    this.#state = state;
    this.#o.onState?.(
      state,
      nextRetryMs === undefined
        ? { attempt: this.#attempt }
        : { attempt: this.#attempt, nextRetryMs },
    );
  }

  #connect(): void {
    if (this.#stopped) return;
    this.#setState("connecting");
    let socket: SocketLike;
    try {
      socket = this.#o.createSocket(this.#o.url, this.#o.protocols);
    } catch {
      this.#scheduleRetry();
      return;
    }
    this.#socket = socket;
    socket.onopen = () => {
      const reconnected = this.#everOpened;
      this.#everOpened = true;
      this.#attempt = 0;
      this.#setState("open");
      if (reconnected) this.#o.onResync?.();
    };
    socket.onmessage = (ev) => {
      const event = parseStreamMessage(ev.data);
      if (event) this.#o.onEvent(event);
    };
    socket.onerror = () => {
      /* a close follows */
    };
    socket.onclose = (ev) => {
      this.#socket = null;
      if (this.#stopped) return;
      if (UNAUTHORIZED_CODES.has(ev.code)) {
        this.#stopped = true;
        this.#setState("closed");
        this.#o.onUnauthorized?.();
        return;
      }
      this.#scheduleRetry();
    };
  }

  #scheduleRetry(): void {
    if (this.#stopped) return;
    const delay = backoffDelay(this.#attempt, this.#o.backoff);
    this.#attempt++;
    this.#setState("connecting", delay);
    this.#timer = (this.#o.setTimer ?? setTimeout)(() => {
      this.#timer = null;
      this.#connect();
    }, delay);
  }
}
