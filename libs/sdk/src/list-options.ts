import type { RequestOptions } from "./transport.js";

/** Paging of every list call. */
export interface ListOptions {
  /** Page size (default 50, at most 500). */
  readonly limit?: number;
  /** The `nextCursor` of the previous page. */
  readonly cursor?: string;
  /** Cancels the call. */
  readonly signal?: AbortSignal;
}

/** One value or several as the list a query parameter repeats; absent stays absent. */
export function listParam(
  v: string | readonly string[] | undefined,
): readonly string[] | undefined {
  return v === undefined ? undefined : typeof v === "string" ? [v] : v;
}

/** The paging part of a list call's query. */
export function pageQuery(options: ListOptions): RequestOptions["query"] {
  return { limit: options.limit, cursor: options.cursor };
}
