import { describe, expect, it } from "vitest";
import { cpioArchive } from "./cpio-archive.js";

/** Reads a newc archive back: name, mode and data of each entry, checking the 4-byte padding. */
function parse(archive: Buffer) {
  const entries: { name: string; mode: number; data: string }[] = [];
  let at = 0;
  for (;;) {
    expect(archive.toString("latin1", at, at + 6)).toBe("070701");
    const field = (i: number) =>
      parseInt(archive.toString("latin1", at + 6 + 8 * i, at + 14 + 8 * i), 16);
    const [mode, size, nameSize] = [field(1), field(6), field(11)];
    const name = archive.toString("latin1", at + 110, at + 110 + nameSize - 1);
    at = Math.ceil((at + 110 + nameSize) / 4) * 4;
    if (name === "TRAILER!!!") return { entries, end: at };
    entries.push({ name, mode, data: archive.toString("latin1", at, at + size) });
    at = Math.ceil((at + size) / 4) * 4;
  }
}

describe("cpioArchive", () => {
  it("writes newc entries the kernel can unpack: directories, files with modes, symlinks", () => {
    const archive = cpioArchive([
      { path: "/bin", type: "dir" },
      { path: "bin/busybox", type: "file", data: Buffer.from("abc"), mode: 0o755 },
      { path: "bin/sh", type: "symlink", target: "busybox" },
      { path: "init", type: "file", data: Buffer.from("#!/bin/sh\n") },
    ]);
    const { entries, end } = parse(archive);
    expect(entries).toEqual([
      { name: "bin", mode: 0o040755, data: "" },
      { name: "bin/busybox", mode: 0o100755, data: "abc" },
      { name: "bin/sh", mode: 0o120777, data: "busybox" },
      { name: "init", mode: 0o100644, data: "#!/bin/sh\n" },
    ]);
    expect(end).toBe(archive.length);
    expect(archive.length % 4).toBe(0);
  });
});
