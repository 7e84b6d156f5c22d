import { z } from "zod";
import { timestampSchema } from "../domain/primitives.js";
import { formatZodError } from "../validation/format-issues.js";
import { eventCatalog, type EventData, type EventType } from "./catalog.js";

/**
 * The wire form of every event, on the bus and on `GET /api/v1/events`: `{type, at, data}`. This
 * schema checks only the envelope; {@link parseEvent} also checks `data` against the catalog.
 */
export const eventEnvelopeSchema = z.object({
  type: z.string().min(1),
  at: timestampSchema,
  data: z.unknown(),
});

/** An event envelope with unchecked data. */
export type EventEnvelope = z.infer<typeof eventEnvelopeSchema>;

/** An event of type `T` with its typed data. */
export interface TypedEvent<T extends EventType> {
  /** The event type. */
  type: T;
  /** When it happened (ISO-8601). */
  at: string;
  /** What happened, per the event catalog. */
  data: EventData<T>;
}

/** Any domain event; narrow it by `type`. */
export type DomainEvent = { [T in EventType]: TypedEvent<T> }[EventType];

/** Thrown by {@link parseEvent} for an unknown type or data that does not fit the catalog. */
export class InvalidEventError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "InvalidEventError";
  }
}

function isEventType(type: string): type is EventType {
  return Object.hasOwn(eventCatalog, type);
}

/**
 * Validates a raw event (already JSON-parsed, or a JSON string) and returns it typed. Throws
 * {@link InvalidEventError} naming the event type and the bad field.
 */
export function parseEvent(raw: unknown): DomainEvent {
  let input = raw;
  if (typeof raw === "string") {
    try {
      input = JSON.parse(raw) as unknown;
    } catch {
      throw new InvalidEventError("event is not valid JSON");
    }
  }
  const envelope = eventEnvelopeSchema.safeParse(input);
  if (!envelope.success)
    throw new InvalidEventError(`invalid event envelope: ${formatZodError(envelope.error)}`);
  const { type, at, data } = envelope.data;
  if (!isEventType(type)) throw new InvalidEventError(`unknown event type "${type}"`);
  const parsed = eventCatalog[type].safeParse(data);
  if (!parsed.success) {
    throw new InvalidEventError(
      `invalid data for event "${type}": ${formatZodError(parsed.error)}`,
    );
  }
  return { type, at, data: parsed.data } as DomainEvent;
}

/** Builds an event of type `type` stamped `at` (default: now). Does not validate `data`. */
export function createEvent<T extends EventType>(
  type: T,
  data: EventData<T>,
  at: Date = new Date(),
): TypedEvent<T> {
  return { type, at: at.toISOString(), data };
}
