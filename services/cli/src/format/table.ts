/**
 * Human output: aligned tables, key/value blocks, relative ages, sizes.
 * @module
 */

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

/** `key  value` lines with the keys aligned; null/undefined values show as `-`. */
export function keyValues(
  entries: readonly (readonly [string, string | number | null | undefined])[],
): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  return (
    entries
      .map(
        ([k, v]) =>
          `${k.padEnd(width)}  ${v === null || v === undefined || v === "" ? "-" : String(v)}`,
      )
      .join("\n") + "\n"
  );
}

/** How long ago `iso` was, compactly: `12s`, `5m`, `3h`, `2d`; `-` for none. */
export function age(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return "-";
  const sec = Math.max(0, Math.floor((now.getTime() - new Date(iso).getTime()) / 1000));
  if (sec < 60) return `${sec}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m`;
  if (sec < 86400) return `${Math.floor(sec / 3600)}h`;
  return `${Math.floor(sec / 86400)}d`;
}

/** How long until `iso`, as `in 5m`, or `-`. */
export function until(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return "-";
  const ms = new Date(iso).getTime() - now.getTime();
  if (ms <= 0) return "now";
  return `in ${age(now.toISOString(), new Date(now.getTime() + ms))}`;
}

/** MiB as `512M` or `2G`. */
export function mib(mb: number): string {
  return mb >= 1024 && mb % 1024 === 0
    ? `${mb / 1024}G`
    : mb >= 1024
      ? `${(mb / 1024).toFixed(1)}G`
      : `${mb}M`;
}

/** `{a: "1"}` as `a=1,b=2`, or `-`. */
export function pairs(record: Readonly<Record<string, string>> | null | undefined): string {
  const entries = Object.entries(record ?? {});
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(",") : "-";
}
