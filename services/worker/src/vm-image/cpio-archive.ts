/** One entry of a {@link cpioArchive}: a directory, a file with its bytes, or a symlink. */
export type CpioEntry =
  | { readonly path: string; readonly type: "dir"; readonly mode?: number }
  | { readonly path: string; readonly type: "file"; readonly data: Buffer; readonly mode?: number }
  | { readonly path: string; readonly type: "symlink"; readonly target: string };

function header(ino: number, mode: number, size: number, nameSize: number): string {
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  // newc: magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
  // rdevminor, namesize, check.
  return "070701" + [ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, nameSize, 0].map(hex).join("");
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

/**
 * An uncompressed cpio archive in the `newc` format, which is what the Linux kernel unpacks as
 * an initramfs. Written here because the format is tiny and `cpio` is not on every host; entries
 * are owned by root.
 */
export function cpioArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const add = (name: string, mode: number, data: Buffer) => {
    const nameBytes = Buffer.from(`${name}\0`);
    const head = Buffer.from(header(ino++, mode, data.length, nameBytes.length), "latin1");
    parts.push(head, nameBytes, pad4(head.length + nameBytes.length), data, pad4(data.length));
  };
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, "");
    if (e.type === "dir") add(name, 0o040000 | (e.mode ?? 0o755), Buffer.alloc(0));
    else if (e.type === "file") add(name, 0o100000 | (e.mode ?? 0o644), e.data);
    else add(name, 0o120777, Buffer.from(e.target));
  }
  add("TRAILER!!!", 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}
