import { describe, expect, it } from "vitest";
import type { Page } from "@aetherium/types";
import { collectPages } from "./collect-pages.js";

/** A list of `n` rows served `size` at a time, cursors being the next offset. */
function list(n: number, size: number) {
  const rows = Array.from({ length: n }, (_, i) => ({ id: `r${i}` }));
  const asked: (string | undefined)[] = [];
  const fetchPage = (cursor: string | undefined): Promise<Page<{ id: string }>> => {
    asked.push(cursor);
    const from = cursor === undefined ? 0 : Number(cursor);
    const items = rows.slice(from, from + size);
    return Promise.resolve({
      items,
      nextCursor: from + size < n ? String(from + size) : null,
    });
  };
  return { fetchPage, asked };
}

describe("collectPages", () => {
  it("joins the first N pages and keeps the cursor of the last one", async () => {
    const { fetchPage, asked } = list(10, 3);
    const page = await collectPages(fetchPage, 2);
    expect(page.items.map((r) => r.id)).toEqual(["r0", "r1", "r2", "r3", "r4", "r5"]);
    expect(page.nextCursor).toBe("6");
    expect(asked).toEqual([undefined, "3"]);
  });

  it("stops at the end of the list, with no cursor left", async () => {
    const { fetchPage, asked } = list(4, 3);
    const page = await collectPages(fetchPage, 5);
    expect(page.items).toHaveLength(4);
    expect(page.nextCursor).toBeNull();
    expect(asked).toHaveLength(2);
  });

  it("fetches one page when asked for none, and shows a row that moved pages once", async () => {
    expect((await collectPages(list(5, 2).fetchPage, 0)).items).toHaveLength(2);
    let call = 0;
    const moving = (): Promise<Page<{ id: string }>> =>
      Promise.resolve(
        call++ === 0
          ? { items: [{ id: "a" }, { id: "b" }], nextCursor: "x" }
          : { items: [{ id: "b" }, { id: "c" }], nextCursor: null },
      );
    expect((await collectPages(moving, 2)).items.map((r) => r.id)).toEqual(["a", "b", "c"]);
  });
});
