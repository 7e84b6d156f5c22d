import { describe, expect, it } from "vitest";
import { axis, fraction, linearScale, niceCeil, ticks } from "./scale.js";
import {
  execLatencies,
  latencySummary,
  percentile,
  statusCounts,
  tasksPerMinute,
} from "./series.js";

describe("chart scales", () => {
  it("rounds a maximum up to 1, 2 or 5 times a power of ten", () => {
    expect([0, 1, 3, 7, 10, 11, 42, 180, 999].map(niceCeil)).toEqual([
      1, 1, 5, 10, 10, 20, 50, 200, 1000,
    ]);
  });
  it("gives integer ticks for small counts and even ones above", () => {
    expect(ticks(3)).toEqual([0, 1, 2, 3]);
    expect(ticks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(ticks(42)).toEqual([0, 20, 40, 60]);
    expect(axis(850, 3)).toEqual({ top: 1000, ticks: [0, 500, 1000] });
    expect(ticks(0)).toEqual([0, 1]);
  });
  it("maps linearly, flipping for SVG's downward y", () => {
    const y = linearScale([0, 10], [100, 0]);
    expect([y(0), y(5), y(10)]).toEqual([100, 50, 0]);
    expect(linearScale([3, 3], [7, 9])(3)).toBe(7);
  });
  it("clamps capacity fractions and treats a zero total as empty", () => {
    expect(fraction(2, 4)).toBe(0.5);
    expect(fraction(9, 4)).toBe(1);
    expect(fraction(1, 0)).toBe(0);
  });
});

describe("series", () => {
  const now = Date.parse("2026-01-01T12:00:30.000Z");
  it("buckets tasks per minute over the last hour, ignoring older ones", () => {
    const b = tasksPerMinute(
      [
        {
          createdAt: "2026-01-01T12:00:10.000Z",
          completedAt: "2026-01-01T12:00:20.000Z",
          status: "succeeded",
        },
        {
          createdAt: "2026-01-01T11:59:59.000Z",
          completedAt: "2026-01-01T12:00:01.000Z",
          status: "failed",
        },
        { createdAt: "2026-01-01T10:00:00.000Z", completedAt: null, status: "queued" },
      ],
      now,
    );
    expect(b).toHaveLength(60);
    expect(b[59]).toMatchObject({ created: 1, finished: 2, failed: 1 });
    expect(b[58]).toMatchObject({ created: 1, finished: 0 });
    expect(b.reduce((n, x) => n + x.created, 0)).toBe(2);
    expect(new Date(b[0]!.start).toISOString()).toBe("2026-01-01T11:01:00.000Z");
  });
  it("computes nearest-rank percentiles and skips running executions", () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([5, 1, 3], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 100], 95)).toBe(100);
    expect(latencySummary([10, null, 30, 20])).toEqual({ count: 3, p50: 20, p95: 30, max: 30 });
  });
  it("charts only commands that ran to their own end, oldest first", () => {
    const run = (durationMs: number | null, error: string | null = null, pty = false) => ({
      durationMs,
      error,
      pty,
    });
    expect(
      execLatencies([
        run(12),
        run(3_600_000, "closed by client", true),
        run(900_000, null, true),
        run(5_000, "killed by SIGKILL"),
        run(null),
        run(8),
      ]),
    ).toEqual([8, 12]);
  });
  it("orders sandbox counts by status and leaves zeros and deleted out", () => {
    expect(statusCounts({ deleted: 4, stopped: 1, running: 2, failed: 0 })).toEqual([
      { status: "running", count: 2 },
      { status: "stopped", count: 1 },
    ]);
  });
});
