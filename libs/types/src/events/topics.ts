import { z } from "zod";

/**
 * A topic pattern: an exact event type (`vm.running`), every event of one entity (`vm.*`), or every
 * event (`*`).
 */
export const topicPatternSchema = z
  .string()
  .regex(
    /^(?:\*|[a-z][a-z_]*\.(?:\*|[a-z][a-z_]*))$/,
    "topic must be an event type (vm.running), 'entity.*' or '*'",
  );

/** A topic pattern. */
export type TopicPattern = z.infer<typeof topicPatternSchema>;

/** True when the event `type` matches `pattern`: equal, `*`, or `vm.*` for any `vm.<name>`. */
export function matchesTopic(type: string, pattern: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) {
    const prefix = pattern.slice(0, -1);
    return type.startsWith(prefix) && type.length > prefix.length;
  }
  return type === pattern;
}

/** True when `type` matches any of `patterns`; an empty list matches everything (no filter). */
export function matchesAnyTopic(type: string, patterns: readonly string[]): boolean {
  return patterns.length === 0 || patterns.some((p) => matchesTopic(type, p));
}

/**
 * Query of `GET /api/v1/events`: `?topics=vm.*,task.failed` (comma-separated and/or repeated).
 * Absent means every event.
 */
export const eventsQuerySchema = z.object({
  topics: z
    .union([z.string(), z.array(z.string())])
    .transform((v) =>
      (Array.isArray(v) ? v : [v])
        .flatMap((s) => s.split(","))
        .map((s) => s.trim())
        .filter((s) => s !== ""),
    )
    .pipe(z.array(topicPatternSchema))
    .default([]),
});

/** A parsed events query. */
export type EventsQuery = z.infer<typeof eventsQuerySchema>;
