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

  it("carries each entry as it is now when the looks kept entries, none for a removal", () => {
    const entry = (name: string, size: string) => ({
      name,
      type: "FILE_TYPE_FILE" as const,
      path: `/w/${name}`,
      size,
      mode: 0o644,
      permissions: "-rw-r--r--",
      owner: "user",
      group: "user",
      modifiedTime: "t2",
    });
    const kept = (size: string, name: string) => ({ ...f(size, "t2"), entry: entry(name, size) });
    const before = new Map([
      ["a", kept("1", "a")],
      ["b", kept("1", "b")],
    ]);
    const after = new Map([
      ["a", kept("5", "a")],
      ["c", kept("0", "c")],
    ]);
    expect(diff(before, after)).toEqual([
      { name: "a", type: "EVENT_TYPE_WRITE", entry: entry("a", "5") },
      { name: "c", type: "EVENT_TYPE_CREATE", entry: entry("c", "0") },
      { name: "b", type: "EVENT_TYPE_REMOVE" },
    ]);
  });
});
