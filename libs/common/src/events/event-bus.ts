import type { DomainEvent, EventEnvelope } from "@aetherium/types";

/** Receives one event. May be async; what it throws or rejects with is reported, never propagated. */
export type EventHandler<E extends EventEnvelope = DomainEvent> = (
  event: E,
) => void | Promise<void>;

/** Stops a subscription; calling it again does nothing. */
export type Unsubscribe = () => void;

/**
 * Publish/subscribe for domain events (`{type, at, data}`, catalogued in `@aetherium/types`).
 * Implementations: {@link InMemoryEventBus} (one process) and {@link RedisEventBus} (Redis pub/sub,
 * several processes). Code depends on this interface only; the composition root picks the transport.
 *
 * The contract every implementation keeps:
 *
 * - **Topics.** `subscribe` takes patterns: an exact type (`vm.running`), one entity's events
 *   (`vm.*`) or everything (`*`), as `matchesTopic` in `@aetherium/types` defines. An event is
 *   delivered once to a subscription even if several of its patterns match.
 * - **Ordering.** Events from one publisher reach each subscription in the order they were
 *   published. There is no order across publishers (processes).
 * - **At-most-once.** Delivery is best-effort and not persisted: a subscriber that is not
 *   subscribed when an event is published (or whose process is down) never sees it, and an event in
 *   flight when the process dies is lost. Durable state lives in Postgres; events only say "look
 *   again". Consumers that cannot miss anything must re-read the database after (re)subscribing.
 * - **Isolation.** Handlers run asynchronously, after `publish` has returned. A handler that throws
 *   or is slow never affects the publisher or other subscriptions; errors are logged.
 * - **Data.** Events must be JSON-serializable (a network bus sends them as JSON), and handlers must
 *   not mutate them (the in-memory bus shares one object between subscribers).
 */
export interface EventBus<E extends EventEnvelope = DomainEvent> {
  /**
   * Publishes `event` to every matching subscription. Resolves once the bus has accepted it (for
   * a network bus: sent it), not when handlers have run. Rejects after `close()`.
   */
  publish(event: E): Promise<void>;
  /**
   * Resolves once events published from now on reach this process's subscriptions (a network
   * bus has to finish subscribing first). Open the bus, await this, then rely on delivery.
   */
  ready(): Promise<void>;
  /**
   * Checks that the bus can carry events now (for a network bus: a round trip to its server);
   * rejects with the reason otherwise. Optional: an in-process bus is always reachable.
   */
  ping?(): Promise<void>;
  /** Calls `handler` for every event whose type matches one of `topicPatterns`. */
  subscribe(topicPatterns: readonly string[], handler: EventHandler<E>): Unsubscribe;
  /** Stops delivery, drops subscriptions and releases connections; waits for handlers in progress. */
  close(): Promise<void>;
}
