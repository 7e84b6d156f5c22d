import { describe, expect, it } from "vitest";
import { diff } from "./dir-watch.js";

const f = (size: string, mtime = "t1", mode = 0o644) => ({ mode, size, mtime, dir: false });

describe("directory watch differences", () => {
  it("names creations (with their write), writes, mode changes and removals", () => {
    const before = new Map([
      ["same", f("1")],
      ["grown", f("1")],
      ["chmod", f("1")],
      ["gone", f("1")],
    ]);
    const after = new Map([
      ["same", f("1")],
      ["grown", f("2", "t2")],
      ["chmod", f("1", "t1", 0o600)],
      ["empty", f("0")],
      ["full", f("3")],
      ["dir", { mode: 0o755, size: "4096", mtime: "t1", dir: true }],
    ]);
    expect(diff(before, after)).toEqual([
      { name: "chmod", type: "EVENT_TYPE_CHMOD" },
      { name: "dir", type: "EVENT_TYPE_CREATE" },
      { name: "empty", type: "EVENT_TYPE_CREATE" },
      { name: "full", type: "EVENT_TYPE_CREATE" },
      { name: "full", type: "EVENT_TYPE_WRITE" },
      { name: "grown", type: "EVENT_TYPE_WRITE" },
      { name: "gone", type: "EVENT_TYPE_REMOVE" },
    ]);
    expect(diff(after, after)).toEqual([]);
  });
});
