import { z } from "zod";

/** Page size used when a list request names none. */
export const DEFAULT_PAGE_LIMIT = 50;

/** Largest page size; larger requests are served this many items rather than refused. */
export const MAX_PAGE_LIMIT = 500;

/**
 * `?limit=`: coerced from the query string, at least 1, default {@link DEFAULT_PAGE_LIMIT}, capped
 * at {@link MAX_PAGE_LIMIT} (asking for more is not an error; a client just gets a full page).
 */
export const limitSchema = z.coerce
  .number({ error: "limit must be a number" })
  .int("limit must be an integer")
  .min(1, "limit must be at least 1")
  .transform((n) => Math.min(n, MAX_PAGE_LIMIT))
  .default(DEFAULT_PAGE_LIMIT);

/** `?cursor=`: the opaque `nextCursor` of the previous page. */
export const cursorSchema = z
  .string()
  .min(1, "cursor must not be empty")
  .max(1024, "cursor is too long");

/** Query of every list route: `?limit=&cursor=`. */
export const listQuerySchema = z.object({
  limit: limitSchema,
  cursor: cursorSchema.optional(),
});

/** A parsed list query. */
export type ListQuery = z.infer<typeof listQuerySchema>;

/** A list query as a client may send it (every field optional). */
export type ListQueryInput = z.input<typeof listQuerySchema>;

/**
 * Schema of one page of a list: `{items, nextCursor}`, where `nextCursor` is null on the last
 * page. Pass it the item schema: `pageSchema(vmSchema)`.
 */
export function pageSchema<Item extends z.ZodType>(item: Item) {
  return z.object({
    items: z.array(item),
    nextCursor: z.string().nullable(),
  });
}

/** One page of a list of `T`. */
export interface Page<T> {
  /** The items of this page, in the list's order. */
  items: T[];
  /** Pass as `?cursor=` to get the next page; null when this is the last one. */
  nextCursor: string | null;
}

/**
 * Reads a query parameter that may be given several times (`?status=a&status=b`) or as a
 * comma-separated list (`?status=a,b`), giving a flat list without empty entries.
 */
export const repeatableQueryParamSchema = z
  .union([z.string(), z.array(z.string())])
  .transform((value) =>
    (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(",")).map((v) => v.trim()),
  )
  .transform((values) => values.filter((v) => v !== ""));

/** Header naming a client-chosen key that makes a creating POST safe to retry. */
export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";

/** Value of the `Idempotency-Key` header: the same key returns the first request's result. */
export const idempotencyKeySchema = z
  .string()
  .min(1, "Idempotency-Key must not be empty")
  .max(255, "Idempotency-Key is at most 255 characters");
