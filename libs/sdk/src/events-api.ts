import type { DomainEvent } from "@aetherium/types";
import {
  subscribeEvents,
  type EventSubscription,
  type SubscribeOptions,
  type SubscribeQuery,
} from "./events.js";
import type { Transport } from "./transport.js";

/** `client.events`: the live event stream. */
export class EventsApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /**
   * Calls `onEvent` for every domain event matching `query.topics` (`vm`, `task.failed`…) until
   * `close()`; reconnects with backoff after a drop (events in between are not replayed).
   */
  subscribe(
    query: SubscribeQuery,
    onEvent: (event: DomainEvent) => void,
    options: SubscribeOptions = {},
  ): EventSubscription {
    return subscribeEvents(this.#t, query, onEvent, options);
  }
}
