import { describe, expect, it } from "vitest";
import {
  canDelete,
  canRead,
  canUploadTo,
  isVirtualPath,
  joinPath,
  parentPath,
} from "./file-rules.js";

describe("file browser rules", () => {
  it("knows the kernel's and the devices' filesystems", () => {
    for (const p of ["/proc", "/proc/1/status", "/sys/", "/sys/kernel", "/dev", "/dev/null"])
      expect(isVirtualPath(p), p).toBe(true);
    for (const p of ["/", "/root", "/procfs", "/device", "/home/dev", "/tmp/proc"])
      expect(isVirtualPath(p), p).toBe(false);
  });

  it("offers Delete only for files, folders and links outside them", () => {
    expect(canDelete("/", { name: "proc", type: "dir" })).toBe(false);
    expect(canDelete("/", { name: "sys", type: "dir" })).toBe(false);
    expect(canDelete("/", { name: "dev", type: "dir" })).toBe(false);
    expect(canDelete("/dev", { name: "null", type: "other" })).toBe(false);
    expect(canDelete("/proc/self", { name: "status", type: "file" })).toBe(false);
    expect(canDelete("/tmp", { name: "fifo", type: "other" })).toBe(false);
    expect(canDelete("/", { name: "root", type: "dir" })).toBe(true);
    expect(canDelete("/root", { name: "notes.txt", type: "file" })).toBe(true);
    expect(canDelete("/root", { name: "link", type: "symlink" })).toBe(true);
  });

  it("offers upload and reading only where they work", () => {
    expect(canUploadTo("/dev")).toBe(false);
    expect(canUploadTo("/proc/1")).toBe(false);
    expect(canUploadTo("/root")).toBe(true);
    expect(canRead("/dev", { name: "null", type: "other" })).toBe(false);
    expect(canRead("/dev", { name: "stdin", type: "symlink" })).toBe(false);
    expect(canRead("/root", { name: "src", type: "dir" })).toBe(false);
    expect(canRead("/proc", { name: "cpuinfo", type: "file" })).toBe(true);
    expect(canRead("/root", { name: "link", type: "symlink" })).toBe(true);
  });

  it("joins and climbs paths", () => {
    expect(joinPath("/", "root")).toBe("/root");
    expect(joinPath("/root/", "a")).toBe("/root/a");
    expect(parentPath("/root/a")).toBe("/root");
    expect(parentPath("/root")).toBe("/");
  });
});
