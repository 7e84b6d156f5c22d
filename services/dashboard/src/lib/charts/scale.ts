/** Scales and ticks for the hand-drawn SVG charts. @module */

/** The smallest "nice" number (1, 2, 5 × 10ⁿ) at or above `value`; at least 1. */
export function niceCeil(value: number): number {
  if (!Number.isFinite(value) || value <= 1) return 1;
  const exp = Math.floor(Math.log10(value));
  const base = 10 ** exp;
  for (const m of [1, 2, 5, 10]) {
    if (m * base >= value - 1e-9) return m * base;
  }
  return 10 * base;
}

/**
 * A value axis for counts and durations: a "nice" step (1, 2, 5 × 10ⁿ, at least 1) so that about
 * `count` intervals cover `max`, and the ticks from 0 to the first multiple of the step at or above it.
 */
export function axis(max: number, count = 4): { top: number; ticks: number[] } {
  const m = Number.isFinite(max) && max > 0 ? max : 1;
  const step = niceCeil(m / count);
  const top = Math.ceil(m / step - 1e-9) * step;
  const out: number[] = [];
  for (let v = 0; v <= top + 1e-9; v += step) out.push(v);
  return { top, ticks: out };
}

/** The ticks of {@link axis}. */
export function ticks(max: number, count = 4): number[] {
  return axis(max, count).ticks;
}

/** A linear map from `[d0, d1]` to `[r0, r1]`; a zero-width domain maps everything to `r0`. */
export function linearScale(
  [d0, d1]: readonly [number, number],
  [r0, r1]: readonly [number, number],
): (v: number) => number {
  const span = d1 - d0;
  return (v) => (span === 0 ? r0 : r0 + ((v - d0) / span) * (r1 - r0));
}

/** `used / total` as a fraction clamped to [0, 1]; a zero total is 0. */
export function fraction(used: number, total: number): number {
  if (!Number.isFinite(used) || !Number.isFinite(total) || total <= 0) return 0;
  return Math.min(1, Math.max(0, used / total));
}
