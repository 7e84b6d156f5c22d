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

  it("formats times relative to now", () => {
    const now = new Date("2026-01-01T12:00:00Z");
    expect(formatRelativeTime("2026-01-01T11:57:00Z", now)).toBe("3 min ago");
    expect(formatRelativeTime("2026-01-01T14:00:00Z", now)).toBe("in 2 h");
    expect(formatRelativeTime("2026-01-01T12:00:01Z", now)).toBe("just now");
    expect(formatRelativeTime(null, now)).toBe("—");
  });

  it("gives every status a tone", () => {
    expect(statusTone("running")).toBe("ok");
    expect(statusTone("lost")).toBe("bad");
    expect(statusTone("something-new")).toBe("idle");
  });
});
