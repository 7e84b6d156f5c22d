/**
 * `client.events`: the live domain event stream (`GET /api/v1/events`), reconnecting after drops.
 * @module
 */
import { InvalidEventError, parseEvent, type DomainEvent } from "@aetherium/types";
import {
  AuthError,
  BadRequestError,
  ContractError,
  NetworkError,
  NotFoundError,
  type AetheriumApiError,
} from "./errors.js";
import { backoffDelay, type BackoffOptions } from "./timing.js";
import { buildQuery, type Transport } from "./transport.js";
import type { WebSocketLike } from "./websocket.js";

/** What to receive: `topics` are event types or prefixes (`vm` matches `vm.created`); none means all. */
export interface SubscribeQuery {
  /** Event types (`vm.running`) or entity prefixes (`vm`, `task`); omitted: every event. */
  readonly topics?: readonly string[];
}

/** Callbacks and tuning of a subscription. */
export interface SubscribeOptions {
  /**
   * Called for each drop (the stream then reconnects), for an event that does not fit the catalog
   * (it is skipped), and once for a refusal that retrying cannot fix (bad key, bad topics; the
   * subscription then ends).
   */
  readonly onError?: (error: AetheriumApiError) => void;
  /** Called each time the stream is (re)connected; events missed while it was down are not replayed. */
  readonly onOpen?: () => void;
  /** Reconnect backoff (default 0.5 s doubling to 30 s). */
  readonly backoff?: BackoffOptions;
}

/** A live subscription; `close()` ends it for good. */
export interface EventSubscription {
  /** Stops receiving and reconnecting. */
  close(): void;
  /** True while the socket is open. */
  readonly connected: boolean;
}

/**
 * True when event `type` matches `topic`: equal, `*`, `vm.*`, or an entity prefix `vm` (the part
 * before the first dot). Used to filter on the client too, so a gateway that sends more than asked
 * does not leak other events through.
 */
export function matchesEventTopic(type: string, topic: string): boolean {
  if (topic === "*" || topic === type) return true;
  const prefix = topic.endsWith(".*") ? topic.slice(0, -2) : topic;
  return type.startsWith(`${prefix}.`);
}

// Refusals that come back the same however often we retry.
function isFatal(err: AetheriumApiError): boolean {
  return err instanceof AuthError || err instanceof BadRequestError || err instanceof NotFoundError;
}

/** Opens the event stream and keeps it open; see {@link SubscribeOptions}. */
export function subscribeEvents(
  transport: Transport,
  query: SubscribeQuery,
  onEvent: (event: DomainEvent) => void,
  options: SubscribeOptions = {},
): EventSubscription {
  const topics = query.topics ?? [];
  const path = `/events${buildQuery(topics.length ? { topics: topics.join(",") } : undefined)}`;
  let closed = false;
  let socket: WebSocketLike | undefined;
  let connected = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const scheduleReconnect = () => {
    if (closed) return;
    const delay = backoffDelay(attempt++, options.backoff);
    timer = setTimeout(() => void connect(), delay);
  };

  const connect = async () => {
    if (closed) return;
    let ws: WebSocketLike;
    try {
      ws = await transport.openSocket(path, undefined, "/tasks?limit=1");
    } catch (err) {
      const error = err as AetheriumApiError;
      options.onError?.(error);
      if (isFatal(error)) closed = true;
      else scheduleReconnect();
      return;
    }
    if (closed) {
      ws.close(1000);
      return;
    }
    socket = ws;
    connected = true;
    attempt = 0;
    options.onOpen?.();
    ws.addEventListener("message", (event) => {
      if (closed) return;
      let parsed: DomainEvent;
      try {
        const raw: unknown = JSON.parse(
          typeof event.data === "string" ? event.data : String(event.data),
        );
        // Filter before validating: an event of a topic nobody asked for is no one's problem.
        const type = (raw as { type?: unknown } | null)?.type;
        if (
          typeof type === "string" &&
          topics.length &&
          !topics.some((t) => matchesEventTopic(type, t))
        ) {
          return;
        }
        parsed = parseEvent(raw);
      } catch (err) {
        const message = err instanceof InvalidEventError ? err.message : "event is not valid JSON";
        options.onError?.(new ContractError(`skipped an event: ${message}`, "contract", 0));
        return;
      }
      onEvent(parsed);
    });
    ws.addEventListener("close", (event) => {
      if (socket !== ws) return;
      socket = undefined;
      connected = false;
      if (closed) return;
      options.onError?.(
        new NetworkError(
          `event stream dropped (code ${event.code ?? "?"}); reconnecting`,
          "network",
          0,
        ),
      );
      scheduleReconnect();
    });
  };

  void connect();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      socket?.close(1000);
      socket = undefined;
      connected = false;
    },
    get connected() {
      return connected;
    },
  };
}
