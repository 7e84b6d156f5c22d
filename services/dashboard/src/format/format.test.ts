import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, formatRelativeTime, statusTone } from "./format.js";

describe("formatters", () => {
  it("formats durations at every scale", () => {
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(4200)).toBe("4.2 s");
    expect(formatDuration(185_000)).toBe("3 min 5 s");
    expect(formatDuration(2 * 3600_000 + 4 * 60_000)).toBe("2 h 4 min");
    expect(formatDuration(-1)).toBe("—");
  });

  it("formats bytes in binary units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(200 * 1024 * 1024)).toBe("200 MiB");
  });

  it("formats times relative to now as a person reads them", () => {
    const now = new Date("2026-01-01T12:00:00Z");
    expect(formatRelativeTime("2026-01-01T11:57:00Z", now)).toBe("3 min ago");
    expect(formatRelativeTime("2026-01-01T14:00:00Z", now)).toBe("in 2 h");
    expect(formatRelativeTime("2026-01-01T12:00:01Z", now)).toBe("just now");
    expect(formatRelativeTime("2026-01-01T11:59:15Z", now)).toBe("just now");
    expect(formatRelativeTime(null, now)).toBe("—");
    expect(formatRelativeTime("not a time", now)).toBe("—");
  });

  it("counts whole minutes, hours and days, then gives the date", () => {
    const now = new Date(2026, 11, 6, 12, 0, 0);
    const ago = (ms: number) => formatRelativeTime(new Date(now.getTime() - ms).toISOString(), now);
    const ahead = (ms: number) =>
      formatRelativeTime(new Date(now.getTime() + ms).toISOString(), now);
    const min = 60_000;
    const h = 60 * min;
    const day = 24 * h;
    expect(ago(5 * min + 59_000)).toBe("5 min ago");
    expect(ago(59 * min)).toBe("59 min ago");
    expect(ago(60 * min)).toBe("1 h ago");
    expect(ago(3 * h + 59 * min)).toBe("3 h ago");
    expect(ago(23 * h)).toBe("23 h ago");
    expect(ago(day + 2 * h)).toBe("1 day ago");
    expect(ago(2 * day)).toBe("2 days ago");
    expect(ago(6 * day + 23 * h)).toBe("6 days ago");
    // Past a week an age is a date (in the same year without it), never "3753 h ago".
    expect(ago(3753 * h)).toBe(`${new Date(now.getTime() - 3753 * h).getDate()} Jul`);
    expect(formatRelativeTime(new Date(2025, 2, 3, 9).toISOString(), now)).toBe("3 Mar 2025");
    expect(ahead(10 * min)).toBe("in 10 min");
    expect(ahead(2 * day)).toBe("in 2 days");
    expect(formatRelativeTime(new Date(2027, 0, 20).toISOString(), now)).toBe("on 20 Jan 2027");
  });

  it("gives every status a tone", () => {
    expect(statusTone("running")).toBe("ok");
    expect(statusTone("lost")).toBe("bad");
    expect(statusTone("something-new")).toBe("idle");
  });
});
