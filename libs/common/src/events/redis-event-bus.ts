import { eventEnvelopeSchema, type DomainEvent, type EventEnvelope } from "@aetherium/types";
import { Redis } from "ioredis";
import { toDependencyError } from "../errors/index.js";
import type { Logger } from "../logger/index.js";
import type { EventBus, EventHandler, Unsubscribe } from "./event-bus.js";
import { InMemoryEventBus } from "./in-memory-event-bus.js";

/** Options of {@link RedisEventBus}. */
export interface RedisEventBusOptions {
  /** `redis://host:6379/0`. */
  url: string;
  /**
   * Prefix of the channel, so several installations (or test files) can share one Redis; events
   * travel on `<prefix>all`. Default `aetherium:events:`.
   */
  channelPrefix?: string;
  /** Where malformed messages and handler errors are reported. */
  logger?: Logger;
  /**
   * Longest a publish or PING waits for Redis (default 3 s): a frozen Redis fails the call as
   * `unavailable` instead of hanging the request that published.
   */
  commandTimeoutMs?: number;
  /** Longest a TCP connect to Redis may take before a retry (default 3 s). */
  connectTimeoutMs?: number;
}

/**
 * The {@link EventBus} across processes, on Redis pub/sub. Every event goes to one channel and each
 * process filters by pattern locally: a handful of event types per second does not justify a
 * channel per type, and one channel keeps per-publisher order for subscribers of several topics.
 * Delivery is at-most-once, as the contract says: an event published while a process is not
 * subscribed (or disconnected) is not seen by it.
 */
export class RedisEventBus<E extends EventEnvelope = DomainEvent> implements EventBus<E> {
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #channel: string;
  readonly #local: InMemoryEventBus<E>;
  readonly #logger: Logger | undefined;
  readonly #ready: Promise<void>;
  #subscriptions = 0;

  /** Connects and subscribes at once; await {@link RedisEventBus.ready} before relying on delivery. */
  constructor(options: RedisEventBusOptions) {
    this.#channel = `${options.channelPrefix ?? "aetherium:events:"}all`;
    this.#logger = options.logger;
    this.#local = new InMemoryEventBus<E>(options.logger ? { logger: options.logger } : {});
    // Auto-pipelining sends the events published in one tick in one write: under load a busy
    // worker publishes hundreds a second, and one syscall each was a measurable share of its CPU.
    const connectTimeout = options.connectTimeoutMs ?? 3000;
    this.#pub = new Redis(options.url, {
      // One reconnection attempt, then the publish fails: a request waits milliseconds, not the
      // seconds of several back-offs, while Redis is down.
      maxRetriesPerRequest: 1,
      commandTimeout: options.commandTimeoutMs ?? 3000,
      connectTimeout,
      lazyConnect: false,
      enableAutoPipelining: true,
    });
    // The subscriber waits for messages on purpose and rides out outages (resubscribing itself).
    this.#sub = new Redis(options.url, {
      maxRetriesPerRequest: null,
      connectTimeout,
      lazyConnect: false,
    });
    for (const conn of [this.#pub, this.#sub]) {
      // ioredis reconnects by itself; without a listener an outage would crash the process. It
      // reports every failed reconnection: one line per outage and one on recovery are enough.
      let down = false;
      conn.on("error", (err: Error) => {
        if (down) return;
        down = true;
        this.#logger?.warn({ err }, "event bus connection error; reconnecting");
      });
      conn.on("ready", () => {
        if (!down) return;
        down = false;
        this.#logger?.info("event bus connection restored");
      });
    }
    this.#sub.on("message", (channel: string, message: string) => {
      if (channel !== this.#channel) return;
      this.#receive(message);
    });
    this.#ready = this.#sub.subscribe(this.#channel).then(() => undefined);
    // Failure surfaces through ready(); do not leave it unhandled meanwhile.
    this.#ready.catch(() => undefined);
  }

  /** Resolves once this process receives events. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Sends `event` to every process subscribed (this one included). */
  async publish(event: E): Promise<void> {
    try {
      await this.#pub.publish(this.#channel, JSON.stringify(event));
    } catch (err) {
      throw toDependencyError(err, "event bus") ?? err;
    }
  }

  /** Round trip to Redis on the publishing connection; rejects when the bus cannot publish. */
  async ping(): Promise<void> {
    try {
      await this.#pub.ping();
    } catch (err) {
      throw toDependencyError(err, "event bus") ?? err;
    }
    // Connected for publishing is not enough: events reach this process only while subscribed.
    if (this.#sub.status !== "ready") {
      throw new Error(`event subscription connection is ${this.#sub.status}`);
    }
  }

  /** Subscribes `handler` to `topicPatterns` in this process; see {@link EventBus.subscribe}. */
  subscribe(topicPatterns: readonly string[], handler: EventHandler<E>): Unsubscribe {
    const off = this.#local.subscribe(topicPatterns, handler);
    this.#subscriptions++;
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.#subscriptions--;
      off();
    };
  }

  /** Unsubscribes, waits for handlers in progress, and closes both connections. */
  async close(): Promise<void> {
    await this.#sub.unsubscribe(this.#channel).catch(() => undefined);
    await this.#local.close();
    await Promise.all([
      this.#pub.quit().catch(() => this.#pub.disconnect()),
      this.#sub.quit().catch(() => this.#sub.disconnect()),
    ]);
  }

  #receive(message: string): void {
    // Most processes publish far more than they listen to: skip decoding nobody would read.
    if (this.#subscriptions === 0) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      this.#logger?.warn({ channel: this.#channel }, "ignoring a non-JSON event message");
      return;
    }
    const envelope = eventEnvelopeSchema.safeParse(parsed);
    if (!envelope.success) {
      this.#logger?.warn({ channel: this.#channel }, "ignoring a malformed event message");
      return;
    }
    void this.#local.publish(parsed as E).catch(() => undefined);
  }
}
