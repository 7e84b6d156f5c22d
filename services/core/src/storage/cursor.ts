import { sql, type SelectQueryBuilder, type SqlBool } from "kysely";
/**
 * Keyset pagination. A cursor is an opaque base64url string of `{"t": createdAt ISO, "id": uuid}`:
 * the sort key of the last row of a page. The next page starts strictly after it, so rows inserted
 * meanwhile never shift pages the way OFFSET does.
 */

/** A cursor that cannot be decoded (tampered with, truncated, from another API). Maps to 400. */
export class InvalidCursorError extends Error {
  override readonly name = "InvalidCursorError";

  constructor(message = "invalid cursor") {
    super(message);
  }
}

/** The decoded position: the sort timestamp and id of the last row already returned. */
export interface CursorPosition {
  readonly createdAt: Date;
  readonly id: string;
}

/** One page of a list. */
export interface Page<T> {
  readonly items: T[];
  /** Pass back as `cursor` to get the next page; null on the last page. */
  readonly nextCursor: string | null;
}

/** Paging parameters accepted by every `list` method. */
export interface PageOptions {
  /** Page size; default {@link DEFAULT_PAGE_SIZE}, clamped to 1…{@link MAX_PAGE_SIZE}. */
  readonly limit?: number;
  /** The `nextCursor` of the previous page. */
  readonly cursor?: string | null;
}

/** Page size when none is given (spec/api.md). */
export const DEFAULT_PAGE_SIZE = 50;
/** Largest page size (spec/api.md). */
export const MAX_PAGE_SIZE = 500;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `value` is a UUID in canonical text form. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Encodes the position of a row into an opaque cursor. */
export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(
    JSON.stringify({ t: position.createdAt.toISOString(), id: position.id }),
    "utf8",
  ).toString("base64url");
}

/** Decodes a cursor made by {@link encodeCursor}; throws {@link InvalidCursorError} otherwise. */
export function decodeCursor(cursor: string): CursorPosition {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new InvalidCursorError();
  }
  if (typeof parsed !== "object" || parsed === null) throw new InvalidCursorError();
  const { t, id } = parsed as { t?: unknown; id?: unknown };
  // The id goes into a uuid comparison: anything else would be a database error, not a 400.
  if (typeof t !== "string" || typeof id !== "string" || !isUuid(id)) {
    throw new InvalidCursorError();
  }
  const createdAt = new Date(t);
  if (Number.isNaN(createdAt.getTime())) throw new InvalidCursorError();
  return { createdAt, id };
}

/** Clamps a requested page size into the allowed range. */
export function pageSize(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_PAGE_SIZE;
  return Math.min(MAX_PAGE_SIZE, Math.max(1, Math.trunc(limit)));
}

/**
 * Builds a page from rows fetched with `limit + 1`: the extra row only says whether another page
 * exists and is not returned.
 */
export function toPage<T>(rows: T[], limit: number, position: (row: T) => CursorPosition): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(position(last)) : null,
  };
}

/**
 * Finishes a newest-first keyset page: rows strictly after `after` in (`column`, id) order, one
 * more than `limit` fetched to know whether a next page exists. Every list shares this, so paging
 * behaves the same everywhere.
 */
export async function keysetPage<DB, TB extends keyof DB, O extends { id: string }>(
  query: SelectQueryBuilder<DB, TB, O>,
  column: string,
  after: CursorPosition | undefined,
  limit: number,
  position: (row: O) => CursorPosition,
): Promise<Page<O>> {
  const filtered = after
    ? query.where(
        sql<SqlBool>`(${sql.ref(column)}, ${sql.ref("id")}) < (${after.createdAt}, ${after.id})`,
      )
    : query;
  const rows = await filtered
    .orderBy(sql.ref(column), "desc")
    .orderBy(sql.ref("id"), "desc")
    .limit(limit + 1)
    .execute();
  return toPage(rows, limit, position);
}
