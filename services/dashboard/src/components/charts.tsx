"use client";
/** Hand-drawn SVG charts; each is computed from data the API returns, nothing invented. */
import { useEffect, useRef, useState } from "react";
import { axis, fraction, linearScale } from "../lib/charts/scale.js";
import type { MinuteBucket } from "../lib/charts/series.js";
import { formatDuration, statusTone } from "../format/format.js";

const TONE_COLOR: Record<string, string> = {
  ok: "var(--ok)",
  busy: "var(--busy)",
  bad: "var(--bad)",
  idle: "var(--idle)",
  gone: "var(--faint)",
};

/** The rendered width of an element, so SVG text keeps its size whatever the card's width. */
function useWidth(initial = 600) {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(initial);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const update = () => setWidth(Math.max(240, Math.round(el.getBoundingClientRect().width)));
    update();
    const ro = new ResizeObserver(update);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return [ref, width] as const;
}

/** Horizontal bars, one per status. */
export function StatusBars({ data }: { data: readonly { status: string; count: number }[] }) {
  const max = Math.max(1, ...data.map((d) => d.count));
  return (
    <div role="list" aria-label="Sandboxes by status">
      {data.map((d) => (
        <div className="hbar-row" key={d.status} role="listitem">
          <span>{d.status}</span>
          <div className="hbar-track">
            <div
              className="hbar-fill"
              style={{
                width: `${Math.max(2, (d.count / max) * 100)}%`,
                background: TONE_COLOR[statusTone(d.status)],
              }}
            />
          </div>
          <b className="num" style={{ textAlign: "right" }}>
            {d.count}
          </b>
        </div>
      ))}
    </div>
  );
}

/** Tasks created per minute (bars) with failures on top, over the last hour. */
export function TasksPerMinuteChart({ buckets }: { buckets: readonly MinuteBucket[] }) {
  const [ref, W] = useWidth();
  const H = 170;
  const pad = { l: 30, r: 8, t: 8, b: 22 };
  const { top: max, ticks: yTicks } = axis(
    Math.max(1, ...buckets.map((b) => Math.max(b.created, b.failed))),
    4,
  );
  const y = linearScale([0, max], [H - pad.b, pad.t]);
  const bw = (W - pad.l - pad.r) / Math.max(1, buckets.length);
  const n = buckets.length;
  const total = buckets.reduce((s, b) => s + b.created, 0);
  return (
    <div className="chart" ref={ref}>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`Tasks per minute over the last hour: ${total} created`}
      >
        {yTicks.map((t) => (
          <g key={t}>
            <line className="grid-line" x1={pad.l} x2={W - pad.r} y1={y(t)} y2={y(t)} />
            <text x={pad.l - 6} y={y(t) + 4} textAnchor="end">
              {t}
            </text>
          </g>
        ))}
        {buckets.map((b, i) => {
          const x = pad.l + i * bw;
          const h = y(0) - y(b.created);
          const fh = y(0) - y(b.failed);
          return (
            <g key={b.start}>
              <title>
                {`${new Date(b.start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}: ${b.created} created, ${b.finished} finished, ${b.failed} failed`}
              </title>
              {b.created > 0 && (
                <rect
                  x={x + 1}
                  y={y(b.created)}
                  width={Math.max(1, bw - 2)}
                  height={h}
                  rx={1.5}
                  fill="var(--chart-1)"
                />
              )}
              {b.failed > 0 && (
                <rect
                  x={x + 1}
                  y={y(b.failed)}
                  width={Math.max(1, bw - 2)}
                  height={fh}
                  rx={1.5}
                  fill="var(--chart-3)"
                />
              )}
            </g>
          );
        })}
        {[0, Math.floor(n / 2), n - 1].map((i) => (
          <text key={i} x={pad.l + i * bw + bw / 2} y={H - 6} textAnchor="middle">
            {i === n - 1 ? "now" : `−${n - 1 - i} min`}
          </text>
        ))}
      </svg>
      <div className="legend">
        <span>
          <i style={{ background: "var(--chart-1)" }} />
          created
        </span>
        <span>
          <i style={{ background: "var(--chart-3)" }} />
          failed
        </span>
      </div>
    </div>
  );
}

/** A labelled capacity bar: amber above 75 %, red when full. */
export function Meter({
  label,
  used,
  total,
  format = (v: number) => String(v),
}: {
  label: string;
  used: number;
  total: number;
  format?: (v: number) => string;
}) {
  const f = fraction(used, total);
  return (
    <div className="meter">
      <div className="meter-top">
        <span>{label}</span>
        <span>
          <b>{format(used)}</b> / {format(total)}
        </span>
      </div>
      <div
        className="meter-track"
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={used}
      >
        <div
          className={`meter-fill${f >= 1 ? " full" : f > 0.75 ? " high" : ""}`}
          style={{ width: `${f * 100}%` }}
        />
      </div>
    </div>
  );
}

/** Duration of each recent execution (oldest left), with the p50 and p95 lines. */
export function LatencyChart({
  durations,
  p50,
  p95,
}: {
  durations: readonly number[];
  p50: number | null;
  p95: number | null;
}) {
  const [ref, W] = useWidth();
  const H = 150;
  const pad = { l: 52, r: 8, t: 8, b: 8 };
  const { top: max, ticks: yTicks } = axis(Math.max(1, ...durations), 3);
  const y = linearScale([0, max], [H - pad.b, pad.t]);
  // Few executions would make slabs: bars stay at most 24 px wide, drawn from the left.
  const bw = Math.min(24, (W - pad.l - pad.r) / Math.max(1, durations.length));
  return (
    <div className="chart" ref={ref}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Execution durations">
        {yTicks.map((t) => (
          <g key={t}>
            <line className="grid-line" x1={pad.l} x2={W - pad.r} y1={y(t)} y2={y(t)} />
            <text x={pad.l - 6} y={y(t) + 4} textAnchor="end">
              {formatDuration(t)}
            </text>
          </g>
        ))}
        {durations.map((d, i) => (
          <rect
            key={i}
            x={pad.l + i * bw + 1}
            y={y(d)}
            width={Math.max(1, bw - 2)}
            height={y(0) - y(d)}
            rx={1.5}
            fill="var(--chart-2)"
          >
            <title>{formatDuration(d)}</title>
          </rect>
        ))}
        {[
          { v: p50, c: "var(--ok)", l: "p50" },
          { v: p95, c: "var(--busy)", l: "p95" },
        ].map(
          (m) =>
            m.v !== null && (
              <g key={m.l}>
                <line
                  x1={pad.l}
                  x2={W - pad.r}
                  y1={y(m.v)}
                  y2={y(m.v)}
                  stroke={m.c}
                  strokeDasharray="4 3"
                />
              </g>
            ),
        )}
      </svg>
      <div className="legend">
        <span>
          <i style={{ background: "var(--chart-2)" }} />
          each execution
        </span>
        <span>
          <i style={{ background: "var(--ok)" }} />
          p50 {p50 === null ? "—" : formatDuration(p50)}
        </span>
        <span>
          <i style={{ background: "var(--busy)" }} />
          p95 {p95 === null ? "—" : formatDuration(p95)}
        </span>
      </div>
    </div>
  );
}
