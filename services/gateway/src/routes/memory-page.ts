import { InvalidCursorError } from "@aetherium/core";
import type { Page } from "@aetherium/types";

/**
 * One page of a short list held whole in memory (workers, API keys), with the same `?limit` and
 * `?cursor` rules as the lists the database pages. The list is served sorted by `keyOf`, a unique
 * string per item, ascending or descending (`order`). The cursor is the key of
 * the last item served; one this API did not give out is an {@link InvalidCursorError} (400), as
 * on every other list, rather than an empty page.
 */
export function pageInMemory<T>(
  all: readonly T[],
  keyOf: (item: T) => string,
  options: { order: "asc" | "desc"; limit: number; cursor?: string | undefined; key: RegExp },
): Page<T> {
  const keyed = all.map((item) => ({ item, key: keyOf(item) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  if (options.order === "desc") keyed.reverse();
  let rest = keyed;
  if (options.cursor !== undefined) {
    const after = decodeCursor(options.cursor, options.key);
    rest = keyed.filter((k) => (options.order === "asc" ? k.key > after : k.key < after));
  }
  const page = rest.slice(0, options.limit);
  const last = page.at(-1);
  return {
    items: page.map((k) => k.item),
    nextCursor:
      rest.length > page.length && last ? Buffer.from(last.key).toString("base64url") : null,
  };
}

function decodeCursor(cursor: string, key: RegExp): string {
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  // Decoding is lenient (it skips what is not base64url): only an exact round trip to a key of
  // the expected shape is one of ours.
  if (Buffer.from(text).toString("base64url") !== cursor || !key.test(text)) {
    throw new InvalidCursorError();
  }
  return text;
}
