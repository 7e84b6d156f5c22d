import { describe, expect, it } from "vitest";
import { formatTable, percentile, sample, summarize } from "./stats.js";

describe("bench stats", () => {
  it("computes nearest-rank percentiles", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 0.5)).toBe(50);
    expect(percentile(xs, 0.95)).toBe(95);
    expect(percentile(xs, 1)).toBe(100);
    expect(summarize([3, 1, 2])).toMatchObject({ n: 3, min: 1, p50: 2, max: 3, mean: 2 });
  });

  it("stops a sampling loop at its iteration bound", async () => {
    let calls = 0;
    const samples = await sample(
      async () => {
        calls++;
        await Promise.resolve();
      },
      { maxIterations: 7, maxMs: 10_000, warmup: 2 },
    );
    expect(samples).toHaveLength(7);
    expect(calls).toBe(9);
  });

  it("stops a sampling loop at its time bound", async () => {
    const samples = await sample(() => new Promise((r) => setTimeout(r, 20)), {
      maxIterations: 1_000_000,
      maxMs: 100,
    });
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.length).toBeLessThan(10);
  });

  it("aligns table columns", () => {
    expect(
      formatTable([
        ["a", "bb", "c"],
        ["ddd", "e", "f"],
      ]),
    ).toBe("a    bb  c\nddd  e   f");
  });
});
