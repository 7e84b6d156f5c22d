/** What the Files tab offers for a path: where it starts, and which rows may be changed. */
import type { FileEntry } from "@aetherium/types";

/**
 * Where the file browser opens: root's home, where a user's own files are, rather than `/`
 * whose first rows are the kernel's `/proc`, `/sys` and `/dev`.
 */
export const FILES_START_PATH = "/root";

/**
 * Kernel and device filesystems: their entries are not files a user made, and removing or writing
 * them is refused or does harm, so the browser only shows them.
 */
const VIRTUAL_ROOTS = ["/proc", "/sys", "/dev"];

/** `name` inside directory `dir`. */
export function joinPath(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir.replace(/\/+$/, "")}/${name}`;
}

/** The directory holding `dir` (`/` for `/` itself). */
export function parentPath(dir: string): string {
  const p = dir.replace(/\/+$/, "").split("/").slice(0, -1).join("/");
  return p === "" ? "/" : p;
}

/** Whether `path` is, or lies inside, `/proc`, `/sys` or `/dev`. */
export function isVirtualPath(path: string): boolean {
  const p = path.replace(/\/+$/, "") || "/";
  return VIRTUAL_ROOTS.some((root) => p === root || p.startsWith(`${root}/`));
}

/** Whether files may be uploaded into `dir`. */
export function canUploadTo(dir: string): boolean {
  return !isVirtualPath(dir);
}

/**
 * Whether the row `entry` of `dir` gets a Delete button: files, folders and links outside the
 * virtual filesystems. Devices, sockets and FIFOs (`other`) never do; the API refuses them.
 */
export function canDelete(dir: string, entry: Pick<FileEntry, "name" | "type">): boolean {
  return entry.type !== "other" && !isVirtualPath(joinPath(dir, entry.name));
}

/**
 * Whether the row of `dir` can be viewed or downloaded: only what reads as bytes. Not devices or
 * FIFOs, nor links inside the virtual filesystems (`/dev/stdin`, `/proc/self/fd/*` lead to them).
 */
export function canRead(dir: string, entry: Pick<FileEntry, "name" | "type">): boolean {
  if (entry.type === "file") return true;
  return entry.type === "symlink" && !isVirtualPath(joinPath(dir, entry.name));
}
