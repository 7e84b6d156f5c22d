import { describe, expect, it } from "vitest";
import { MicroBatcher } from "./micro-batcher.js";

describe("MicroBatcher", () => {
  it("coalesces concurrent calls into batches and keeps each caller's result", async () => {
    const batches: number[][] = [];
    const b = new MicroBatcher<number, number>(
      (xs) => {
        batches.push(xs);
        return Promise.resolve(xs.map((x) => x * 2));
      },
      (x) => Promise.resolve(x * 2),
      4,
    );
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => b.add(x)));
    expect(results).toEqual([2, 4, 6, 8, 10, 12]);
    expect(batches).toEqual([
      [1, 2, 3, 4],
      [5, 6],
    ]);
  });

  it("runs a lone call on its own", async () => {
    let batched = 0;
    const b = new MicroBatcher<number, number>(
      (xs) => {
        batched++;
        return Promise.resolve(xs);
      },
      (x) => Promise.resolve(x + 1),
    );
    expect(await b.add(1)).toBe(2);
    expect(batched).toBe(0);
  });

  it("fails only the bad item when a batch fails", async () => {
    const b = new MicroBatcher<number, number>(
      () => Promise.reject(new Error("batch failed")),
      (x) => (x === 2 ? Promise.reject(new Error("two is bad")) : Promise.resolve(x)),
    );
    const results = await Promise.allSettled([1, 2, 3].map((x) => b.add(x)));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ message: "two is bad" });
    expect(b.batchFailures).toBe(1);
  });
});
