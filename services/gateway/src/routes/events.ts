import type { DomainEvent } from "@aetherium/types";
import type { WebSocket } from "ws";
import { z } from "zod";
import type { RouteDeps } from "../server/deps.js";
import type { Api } from "./api.js";

/** A client this far behind is dropped (close 1013, "try again later") rather than buffered for. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/**
 * `?topics=vm,task.failed`: each entry is an event type (`vm.running`) or an entity (`vm`, also
 * written `vm.*`); none means every event. Mapped onto the bus's patterns (`vm.*`, `*`).
 */
export const eventTopicsQuerySchema = z.object({
  topics: z
    .string()
    .optional()
    .transform((raw) => {
      const list = (raw ?? "")
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean);
      return list.length === 0 ? ["*"] : list.map((t) => (t.includes(".") ? t : `${t}.*`));
    })
    .pipe(
      z.array(
        z
          .string()
          .regex(/^(\*|[a-z]+\.(\*|[a-z_]+))$/, "topics are entries like vm, vm.running or task"),
      ),
    ),
});

/** `GET /events` (WebSocket): every domain event as `{type, at, data}`, filtered by topic. */
export function registerEventRoutes(api: Api, deps: RouteDeps): void {
  api.get(
    "/api/v1/events",
    {
      websocket: true,
      schema: {
        tags: ["events"],
        summary: "Live domain events (WebSocket)",
        description:
          "Each message is one event `{type, at, data}`. Delivery is best-effort: after a reconnect, re-read what you show.",
        querystring: eventTopicsQuerySchema,
      },
    },
    (socket: WebSocket, req) => {
      const patterns = req.query.topics;
      deps.streams.track(socket, req.principal?.keyId);
      const unsubscribe = deps.runtime.bus.subscribe(patterns, (event: DomainEvent) => {
        if (socket.readyState !== socket.OPEN) return;
        if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          socket.close(1013, "client too slow; reconnect and re-read");
          return;
        }
        socket.send(JSON.stringify(event));
      });
      socket.on("close", unsubscribe);
      socket.on("error", unsubscribe);
      // Clients only listen; anything they send is ignored (pings are handled by ws itself).
    },
  );
}
