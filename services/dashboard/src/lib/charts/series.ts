/** Series the charts draw, computed from what the API returns. @module */

/** One minute of task activity. */
export interface MinuteBucket {
  /** Start of the minute (ms since epoch). */
  readonly start: number;
  readonly created: number;
  readonly finished: number;
  readonly failed: number;
}

interface TaskTimes {
  readonly createdAt: string;
  readonly completedAt: string | null;
  readonly status: string;
}

/**
 * Tasks created and finished per minute over the `minutes` minutes up to `now` (oldest first).
 * Times outside the window are ignored; `failed` counts finished tasks whose status is `failed`.
 */
export function tasksPerMinute(
  tasks: readonly TaskTimes[],
  now: number,
  minutes = 60,
): MinuteBucket[] {
  const end = Math.floor(now / 60_000) * 60_000 + 60_000;
  const start = end - minutes * 60_000;
  const buckets = Array.from({ length: minutes }, (_, i) => ({
    start: start + i * 60_000,
    created: 0,
    finished: 0,
    failed: 0,
  }));
  const at = (iso: string | null): number => {
    if (!iso) return -1;
    const t = Date.parse(iso);
    if (Number.isNaN(t) || t < start || t >= end) return -1;
    return Math.floor((t - start) / 60_000);
  };
  for (const t of tasks) {
    const c = at(t.createdAt);
    if (c >= 0) buckets[c]!.created++;
    const f = at(t.completedAt);
    if (f >= 0) {
      buckets[f]!.finished++;
      if (t.status === "failed") buckets[f]!.failed++;
    }
  }
  return buckets;
}

/** The `p`-th percentile (0–100) by nearest rank; null for no data. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Summary of exec durations: count, p50, p95, max (ms). */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly max: number | null;
}

export function latencySummary(durations: readonly (number | null | undefined)[]): LatencySummary {
  const v = durations.filter((d): d is number => typeof d === "number" && Number.isFinite(d));
  return {
    count: v.length,
    p50: percentile(v, 50),
    p95: percentile(v, 95),
    max: v.length ? Math.max(...v) : null,
  };
}

interface ExecutionTiming {
  readonly durationMs: number | null;
  readonly error: string | null;
  readonly pty?: boolean;
}

/**
 * The durations the exec latency chart draws, oldest first, from executions listed newest first:
 * only commands that ran to their own end. A terminal session (`pty`) lasts as long as someone
 * kept the shell open, and a command closed by its client, killed, timed out or cut off by a lost
 * agent (`error`) says nothing about how fast commands run, so both are left out.
 */
export function execLatencies(executions: readonly ExecutionTiming[]): number[] {
  return executions
    .filter((e) => !e.pty && e.error === null && e.durationMs !== null)
    .map((e) => e.durationMs!)
    .reverse();
}

/** Sandbox counts by status in a fixed, readable order; statuses with zero are left out. */
export const VM_STATUS_ORDER = [
  "running",
  "creating",
  "pending",
  "stopping",
  "stopped",
  "deleting",
  "failed",
  "lost",
  "deleted",
] as const;

export function statusCounts(
  counts: Readonly<Partial<Record<string, number>>>,
  options: { includeDeleted?: boolean } = {},
): { status: string; count: number }[] {
  const known = new Set<string>(VM_STATUS_ORDER);
  const order = [...VM_STATUS_ORDER, ...Object.keys(counts).filter((k) => !known.has(k))];
  return order
    .filter((s) => options.includeDeleted || s !== "deleted")
    .map((status) => ({ status, count: counts[status] ?? 0 }))
    .filter((x) => x.count > 0);
}
