import { constants as fsConstants, type Stats } from "node:fs";
import {
  chmod,
  chown,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  rm,
  rmdir,
  stat,
  type FileHandle,
} from "node:fs/promises";
import path from "node:path";
import {
  AGENT_ERROR_CODES,
  FS_READ_LIMITS,
  type AgentFileStat,
  type AgentFileType,
  type FsListResult,
  type FsMkdirParams,
  type FsMkdirResult,
  type FsReadParams,
  type FsReadResult,
  type FsRemoveParams,
  type FsRemoveResult,
  type FsWriteParams,
  type FsWriteResult,
} from "@aetherium/types";
import { AgentRpcError, errnoOf, fsError } from "./rpc-error.js";
import { resolveUser } from "./users.js";

/*
 * File operations of the agent. Paths are used exactly as given after lexical normalisation:
 * `/a/b/../c` means `/a/c`, relative paths are refused (there is no "current directory" a host
 * could reason about), and symbolic links are followed by the kernel as for any program in the
 * sandbox: the agent is not a security boundary inside its own sandbox.
 */

/** Normalises an absolute path (`/a/./b/../c/` → `/a/c`); refuses anything else. */
export function normalisePath(p: string): string {
  if (!p.startsWith("/") || p.includes("\0")) {
    throw new AgentRpcError(AGENT_ERROR_CODES.invalidPath, `path must be absolute: ${p}`, {
      path: p,
    });
  }
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

function typeOf(st: Stats): AgentFileType {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "directory";
  if (st.isSymbolicLink()) return "symlink";
  return "other";
}

async function describe(p: string, st: Stats): Promise<AgentFileStat> {
  const out: AgentFileStat = {
    path: p,
    type: typeOf(st),
    size: st.size,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    mtimeMs: st.mtimeMs,
  };
  if (st.isSymbolicLink()) out.linkTarget = await readlink(p).catch(() => "");
  return out;
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isDirectory()) return "a directory";
  return "not a regular file";
}

function notRegular(p: string, st: Stats | undefined, errno?: string): AgentRpcError {
  if (st?.isDirectory() === true) {
    return new AgentRpcError(AGENT_ERROR_CODES.isADirectory, `${p}: is a directory`, {
      path: p,
      errno: "EISDIR",
    });
  }
  const what = st === undefined ? "a socket or special file" : kindOf(st);
  return new AgentRpcError(
    AGENT_ERROR_CODES.notARegularFile,
    `${p}: is ${what}; only regular files can be read or written`,
    { path: p, ...(errno === undefined ? {} : { errno }) },
  );
}

// A FIFO, socket or device must never be opened by a blocking open(2): an open of a FIFO with no
// writer blocks one of libuv's four thread-pool threads until someone writes, and a handful of
// them wedge every file operation of the agent. So: stat first (refuses without opening at all),
// then open with O_NONBLOCK (returns at once even if the path was swapped for a FIFO meanwhile;
// a socket gives ENXIO) and check the opened fd is a regular file before any read or write.
const OPEN_FLAGS_NONBLOCK = fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY;

async function openRegular(p: string, flags: number, mode?: number): Promise<FileHandle> {
  const before = await stat(p).catch((err: unknown) => {
    if (errnoOf(err) === "ENOENT" && (flags & fsConstants.O_CREAT) !== 0) return undefined;
    throw err;
  });
  if (before !== undefined && !before.isFile()) throw notRegular(p, before);
  let fh: FileHandle;
  try {
    fh = await open(p, flags | OPEN_FLAGS_NONBLOCK, mode);
  } catch (err) {
    if (errnoOf(err) === "ENXIO") throw notRegular(p, undefined, "ENXIO");
    throw err;
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw notRegular(p, st);
  }
  return fh;
}

/**
 * `fs.read`: one byte range; binary-safe. Only regular files: FIFOs, sockets and devices are
 * refused (`notARegularFile`). A file whose size says 0 (`/proc`, `/sys`) is read until its end,
 * at most `length` bytes per call, so its real content comes back; `eof` says whether the end was
 * reached.
 */
export async function fsRead(params: FsReadParams): Promise<FsReadResult> {
  const p = normalisePath(params.path);
  const offset = params.offset ?? 0;
  const length = Math.min(params.length ?? FS_READ_LIMITS.default, FS_READ_LIMITS.max);
  try {
    const fh = await openRegular(p, fsConstants.O_RDONLY);
    try {
      const { size } = await fh.stat();
      // Pseudo-files report size 0 whatever they hold: for them, read until read(2) says EOF.
      const sized = size > 0;
      const want = sized ? Math.max(0, Math.min(length, size - offset)) : length;
      const buf = Buffer.alloc(want);
      let got = 0;
      let hitEnd = false;
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, offset + got);
        if (bytesRead === 0) {
          hitEnd = true;
          break;
        }
        got += bytesRead;
      }
      return {
        data: buf.subarray(0, got).toString("base64"),
        bytesRead: got,
        size: sized ? size : hitEnd ? offset + got : 0,
        eof: sized ? offset + got >= size : hitEnd,
      };
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw fsError(err, p);
  }
}

async function ownerOf(user: FsWriteParams["user"]): Promise<{ uid: number; gid: number } | null> {
  if (user === undefined) return null;
  const u = await resolveUser(user);
  return { uid: u.uid, gid: u.gid };
}

/** Creates `dir` and missing parents; gives the created ones to `owner`. */
async function mkdirs(
  dir: string,
  mode: number | undefined,
  owner: { uid: number; gid: number } | null,
): Promise<boolean> {
  const first = await mkdir(dir, { recursive: true, ...(mode === undefined ? {} : { mode }) });
  if (first === undefined) return false;
  if (owner !== null) {
    // mkdir returns the first directory it created; everything from there down to `dir` is new.
    let d = dir;
    const created: string[] = [];
    while (d.length >= first.length) {
      created.push(d);
      d = path.posix.dirname(d);
    }
    for (const c of created.reverse()) await chown(c, owner.uid, owner.gid);
  }
  return true;
}

/** `fs.write`: create/truncate, or append; binary-safe. */
export async function fsWrite(params: FsWriteParams): Promise<FsWriteResult> {
  const p = normalisePath(params.path);
  const data = Buffer.from(params.data, "base64");
  try {
    const owner = await ownerOf(params.user);
    if (params.createParents !== false) await mkdirs(path.posix.dirname(p), undefined, owner);
    const fh = await openRegular(
      p,
      fsConstants.O_WRONLY |
        fsConstants.O_CREAT |
        (params.append === true ? fsConstants.O_APPEND : fsConstants.O_TRUNC),
      params.mode ?? 0o644,
    );
    try {
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await fh.write(data, written, data.length - written);
        written += bytesWritten;
      }
      // open()'s mode only applies to a new file, and minus the umask: apply it as asked.
      if (params.mode !== undefined) await fh.chmod(params.mode);
      if (owner !== null) await fh.chown(owner.uid, owner.gid);
      const { size } = await fh.stat();
      return { bytesWritten: written, size };
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw fsError(err, p);
  }
}

/** `fs.list`: the entries of a directory, sorted by name, links not followed. */
export async function fsList(params: { path: string }): Promise<FsListResult> {
  const p = normalisePath(params.path);
  try {
    const names = (await readdir(p)).sort();
    const entries = await Promise.all(
      names.map(async (name) => {
        const child = p === "/" ? `/${name}` : `${p}/${name}`;
        try {
          return { name, ...(await describe(child, await lstat(child))) };
        } catch {
          return undefined; // Removed between readdir and lstat.
        }
      }),
    );
    return { entries: entries.filter((e) => e !== undefined) };
  } catch (err) {
    throw fsError(err, p);
  }
}

/** `fs.stat`: metadata of one path, links not followed. */
export async function fsStat(params: { path: string }): Promise<AgentFileStat> {
  const p = normalisePath(params.path);
  try {
    return await describe(p, await lstat(p));
  } catch (err) {
    throw fsError(err, p);
  }
}

/** `fs.remove`: a file or link, an empty directory, or (`recursive`) a tree. */
export async function fsRemove(params: FsRemoveParams): Promise<FsRemoveResult> {
  const p = normalisePath(params.path);
  if (p === "/") {
    throw new AgentRpcError(AGENT_ERROR_CODES.invalidPath, "refusing to remove /", { path: p });
  }
  try {
    const st = await lstat(p);
    if (!st.isDirectory()) await rm(p);
    else if (params.recursive === true) await rm(p, { recursive: true });
    else await rmdir(p);
    return { removed: true };
  } catch (err) {
    if (params.force === true && errnoOf(err) === "ENOENT") return { removed: false };
    throw fsError(err, p);
  }
}

/** `fs.mkdir`: with `parents` (default) like `mkdir -p`, else exactly one directory. */
export async function fsMkdir(params: FsMkdirParams): Promise<FsMkdirResult> {
  const p = normalisePath(params.path);
  try {
    const owner = await ownerOf(params.user);
    if (params.parents === false) {
      await mkdir(p, params.mode ?? 0o755);
      if (owner !== null) await chown(p, owner.uid, owner.gid);
      return { created: true };
    }
    const created = await mkdirs(p, params.mode, owner);
    if (!created) {
      const st = await lstat(p);
      if (!st.isDirectory()) {
        throw new AgentRpcError(
          AGENT_ERROR_CODES.alreadyExists,
          `${p}: exists and is not a directory`,
          {
            path: p,
          },
        );
      }
    } else if (params.mode !== undefined) {
      await chmod(p, params.mode);
    }
    return { created };
  } catch (err) {
    throw fsError(err, p);
  }
}
