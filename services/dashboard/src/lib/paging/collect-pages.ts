import type { Page } from "@aetherium/types";

/**
 * Fetches the first `pages` pages of a cursor-paginated list and joins them into one page whose
 * `nextCursor` is that of the last page fetched (null once the list is exhausted). A list that
 * grows with "Show more" asks for one page more each time; the live stream then patches the
 * joined page like any other. Items that moved between pages while they were fetched (a row
 * whose sort key changed) appear once.
 */
export async function collectPages<T extends { id: string }>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
  pages: number,
): Promise<Page<T>> {
  const items: T[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  let next: string | null = null;
  for (let i = 0; i < Math.max(1, pages); i++) {
    const page = await fetchPage(cursor);
    for (const item of page.items) {
      if (seen.has(item.id)) continue;
      seen.add(item.id);
      items.push(item);
    }
    next = page.nextCursor;
    if (next === null) break;
    cursor = next;
  }
  return { items, nextCursor: next };
}
