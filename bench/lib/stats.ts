/** Summary of a set of timings, in the unit they were taken (milliseconds throughout the benches). */
export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentile of an ascending-sorted array (`q` in 0..1). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

/** Summarises samples; machines here are shared and noisy, so quote p50 and ratios, not means. */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/** Bounds for a measurement loop: every loop stops at whichever limit it reaches first. */
export interface LoopBounds {
  readonly maxIterations: number;
  readonly maxMs: number;
  /** Untimed iterations first, to warm caches and JITs. */
  readonly warmup?: number;
}

/** Times `fn` repeatedly within `bounds`, returning one duration (ms) per timed iteration. */
export async function sample(fn: () => Promise<unknown>, bounds: LoopBounds): Promise<number[]> {
  for (let i = 0; i < (bounds.warmup ?? 0); i++) await fn();
  const samples: number[] = [];
  const deadline = performance.now() + bounds.maxMs;
  while (samples.length < bounds.maxIterations && performance.now() < deadline) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

/** Rounds for display and JSON (3 significant decimals is plenty for noisy machines). */
export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** A table of ours against a baseline, columns padded to line up. */
export function formatTable(rows: ReadonlyArray<readonly string[]>): string {
  const columns = Math.max(...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) =>
    Math.max(...rows.map((r) => (r[i] ?? "").length)),
  );
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** A deadline for a loop: every loop stops at its count or its deadline, whichever comes first. */
export function until(ms: number): () => boolean {
  const end = performance.now() + ms;
  return () => performance.now() < end;
}

/** How long `fn` took, in milliseconds. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** A summary as a table cell: `p50 (p95) n=count`. */
export function p50p95(s: Summary, digits = 1): string {
  return `${round(s.p50, digits)} (${round(s.p95, digits)}) n=${s.n}`;
}
