/** Formats a duration in milliseconds the way people read it: `850 ms`, `4.2 s`, `3 min 5 s`, `2 h 4 min`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const totalSec = Math.round(s);
  const h = Math.floor(totalSec / 3600);
  const m = Math.floor((totalSec % 3600) / 60);
  const sec = totalSec % 60;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  return sec > 0 ? `${m} min ${sec} s` : `${m} min`;
}

/** Formats a byte count with binary units: `512 B`, `1.5 KiB`, `200 MiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Beyond this an age in days is harder to place than the date itself. */
const DATE_AFTER = 7 * DAY;

/**
 * A time relative to `now` as a person reads it: "just now", "5 min ago", "3 h ago", "2 days ago",
 * and past a week the date ("12 Nov", with the year when it is not this year's: "3 Mar 2025").
 * Future times read "in 5 min", "in 3 h", "in 2 days", then "on 12 Nov". Each step counts whole
 * units (3 h 59 min ago is "3 h ago"). An absent or unreadable time reads as a dash. The date is
 * in the viewer's time zone.
 */
export function formatRelativeTime(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "—";
  const delta = t - now.getTime();
  const abs = Math.abs(delta);
  if (abs < MINUTE) return "just now";
  if (abs >= DATE_AFTER) {
    const d = new Date(t);
    const date = `${d.getDate()} ${MONTHS[d.getMonth()]}`;
    const dated = d.getFullYear() === now.getFullYear() ? date : `${date} ${d.getFullYear()}`;
    return delta < 0 ? dated : `on ${dated}`;
  }
  let text: string;
  if (abs < HOUR) text = `${Math.floor(abs / MINUTE)} min`;
  else if (abs < DAY) text = `${Math.floor(abs / HOUR)} h`;
  else {
    const days = Math.floor(abs / DAY);
    text = days === 1 ? "1 day" : `${days} days`;
  }
  return delta < 0 ? `${text} ago` : `in ${text}`;
}

/** The colour family a status is drawn in; one table so every page agrees. */
export type StatusTone = "ok" | "busy" | "idle" | "bad" | "gone";

const TONES: Record<string, StatusTone> = {
  running: "ok",
  succeeded: "ok",
  ready: "ok",
  active: "ok",
  pending: "busy",
  queued: "busy",
  creating: "busy",
  preparing: "busy",
  stopping: "busy",
  deleting: "busy",
  draining: "busy",
  paused: "idle",
  stopped: "idle",
  cancelled: "idle",
  skipped: "idle",
  failed: "bad",
  lost: "bad",
  offline: "bad",
  deleted: "gone",
  // Outcomes of integration deliveries.
  answered: "ok",
  received: "busy",
  ignored: "idle",
  refused: "bad",
};

/** Maps any sandbox, task or worker status to its tone; unknown statuses are `idle`, not an error. */
export function statusTone(status: string): StatusTone {
  return TONES[status] ?? "idle";
}
