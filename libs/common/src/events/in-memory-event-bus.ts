import {
  matchesTopic,
  topicPatternSchema,
  type DomainEvent,
  type EventEnvelope,
} from "@aetherium/types";
import type { Logger } from "../logger/index.js";
import type { EventBus, EventHandler, Unsubscribe } from "./event-bus.js";

/** Options of {@link InMemoryEventBus}. */
export interface InMemoryEventBusOptions {
  /** Where handler errors are reported; absent: they are swallowed. */
  logger?: Logger;
}

interface Subscription<E extends EventEnvelope> {
  patterns: readonly string[];
  handler: EventHandler<E>;
  // Deliveries to one subscription are chained, which keeps per-publisher order even for async
  // handlers; separate subscriptions do not wait for each other.
  tail: Promise<void>;
  active: boolean;
}

/**
 * The {@link EventBus} for a single process (embedded mode, tests). Each subscription gets events
 * in publish order, one at a time; a slow or failing handler delays only its own subscription.
 */
export class InMemoryEventBus<E extends EventEnvelope = DomainEvent> implements EventBus<E> {
  readonly #subscriptions = new Set<Subscription<E>>();
  readonly #logger: Logger | undefined;
  #closed = false;

  /** Creates an empty bus. */
  constructor(options: InMemoryEventBusOptions = {}) {
    this.#logger = options.logger;
  }

  /** Queues `event` for every matching subscription and returns at once. */
  publish(event: E): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("event bus is closed"));
    for (const sub of this.#subscriptions) {
      if (!sub.patterns.some((p) => matchesTopic(event.type, p))) continue;
      sub.tail = sub.tail.then(() => this.#deliver(sub, event));
    }
    return Promise.resolve();
  }

  /**
   * Subscribes `handler` to `topicPatterns` (`vm.running`, `vm.*`, `*`).
   *
   * @throws {TypeError} for a malformed pattern, so a typo does not silently match nothing.
   */
  subscribe(topicPatterns: readonly string[], handler: EventHandler<E>): Unsubscribe {
    for (const pattern of topicPatterns) {
      if (!topicPatternSchema.safeParse(pattern).success) {
        throw new TypeError(`invalid topic pattern "${pattern}": use "vm.running", "vm.*" or "*"`);
      }
    }
    if (this.#closed) throw new Error("event bus is closed");
    const sub: Subscription<E> = {
      patterns: [...topicPatterns],
      handler,
      tail: Promise.resolve(),
      active: true,
    };
    this.#subscriptions.add(sub);
    return () => {
      sub.active = false;
      this.#subscriptions.delete(sub);
    };
  }

  /** Always ready: delivery is in-process. */
  ready(): Promise<void> {
    return Promise.resolve();
  }

  /** Resolves when every event published so far has been handled (useful in tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((s) => s.tail));
  }

  /** Rejects further publishing, waits for queued deliveries, then drops all subscriptions. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.idle();
    for (const sub of this.#subscriptions) sub.active = false;
    this.#subscriptions.clear();
  }

  async #deliver(sub: Subscription<E>, event: E): Promise<void> {
    if (!sub.active) return;
    try {
      await sub.handler(event);
    } catch (err) {
      this.#logger?.error({ err, eventType: event.type }, "event handler failed");
    }
  }
}
