import { describe, expect, it } from "vitest";
import { z } from "zod";
import { listQuerySchema, pageSchema } from "./pagination.js";

describe("list query", () => {
  it("defaults limit to 50", () => {
    expect(listQuerySchema.parse({})).toEqual({ limit: 50 });
  });

  it("coerces limit from a query string and caps it at 500", () => {
    expect(listQuerySchema.parse({ limit: "10", cursor: "abc" })).toEqual({
      limit: 10,
      cursor: "abc",
    });
    expect(listQuerySchema.parse({ limit: "5000" }).limit).toBe(500);
  });

  it("rejects a non-numeric, zero or fractional limit, naming limit", () => {
    for (const limit of ["abc", "0", "2.5", "-1"]) {
      const r = listQuerySchema.safeParse({ limit });
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(["limit"]);
    }
  });
});

describe("pageSchema", () => {
  const page = pageSchema(z.object({ id: z.string() }));

  it("accepts a page and a last page", () => {
    expect(page.parse({ items: [{ id: "a" }], nextCursor: "n1" })).toEqual({
      items: [{ id: "a" }],
      nextCursor: "n1",
    });
    expect(page.parse({ items: [], nextCursor: null }).nextCursor).toBeNull();
  });

  it("validates items and requires nextCursor", () => {
    expect(page.safeParse({ items: [{ id: 1 }], nextCursor: null }).success).toBe(false);
    expect(page.safeParse({ items: [] }).success).toBe(false);
  });
});
