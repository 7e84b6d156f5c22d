import { posix } from "node:path";
import type { DataPlaneRouter } from "../data-plane/data-plane-router.js";
import { ConnectError, type ConnectCode } from "./connect-protocol.js";

/** E2B's `EntryInfo` in its JSON form. */
export interface EntryInfo {
  readonly name: string;
  readonly type:
    "FILE_TYPE_FILE" | "FILE_TYPE_DIRECTORY" | "FILE_TYPE_SYMLINK" | "FILE_TYPE_UNSPECIFIED";
  readonly path: string;
  readonly size: string;
  readonly mode: number;
  readonly permissions: string;
  readonly owner: string;
  readonly group: string;
  readonly modifiedTime: string;
  readonly symlinkTarget?: string;
}

/** Where the node binary every sandbox image carries (it runs the agent) lives. */
const NODE = "/usr/local/bin/node";

/**
 * The file operations the agent has no message for (stat, mkdir, move, a deep listing), run as
 * one small node program inside the sandbox: it prints one JSON line, `{ok}` or `{err}`, so a
 * failure comes back with its errno mapped to a Connect code instead of as a shell's message.
 * Kept self-contained (it is passed with `node -e`) and free of user input: paths are arguments.
 */
const SCRIPT = String.raw`
const fs = require("fs"), path = require("path");
const names = (file) => { const m = new Map(); try { for (const l of fs.readFileSync(file, "utf8").split("\n")) { const f = l.split(":"); if (f.length > 2) m.set(Number(f[2]), f[0]); } } catch {} return m; };
const users = names("/etc/passwd"), groups = names("/etc/group");
const perm = (m, t) => (t === 2 ? "d" : t === 3 ? "l" : "-") + [6, 3, 0].map((s) => ((m >> s) & 4 ? "r" : "-") + ((m >> s) & 2 ? "w" : "-") + ((m >> s) & 1 ? "x" : "-")).join("");
const TYPES = ["FILE_TYPE_UNSPECIFIED", "FILE_TYPE_FILE", "FILE_TYPE_DIRECTORY", "FILE_TYPE_SYMLINK"];
function info(p) {
  const l = fs.lstatSync(p);
  let t = l.isSymbolicLink() ? 3 : l.isDirectory() ? 2 : l.isFile() ? 1 : 0;
  const e = { name: path.basename(p), type: TYPES[t], path: p, size: String(l.size), mode: l.mode & 0o7777, permissions: perm(l.mode, t), owner: users.get(l.uid) ?? String(l.uid), group: groups.get(l.gid) ?? String(l.gid), modifiedTime: l.mtime.toISOString() };
  if (t === 3) e.symlinkTarget = path.resolve(path.dirname(p), fs.readlinkSync(p));
  return e;
}
function walk(dir, depth, out) {
  for (const n of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, n), e = info(p);
    out.push(e);
    if (depth > 1 && e.type === "FILE_TYPE_DIRECTORY") walk(p, depth - 1, out);
  }
  return out;
}
const [op, a, b] = process.argv.slice(1);
try {
  let ok;
  if (op === "stat") ok = info(a);
  else if (op === "mkdir") { if (fs.existsSync(a)) { const e = new Error("directory already exists: " + a); e.code = "EEXIST"; throw e; } fs.mkdirSync(a, { recursive: true }); ok = info(a); }
  else if (op === "move") { fs.renameSync(a, b); ok = info(b); }
  else if (op === "list") { if (!fs.statSync(a).isDirectory()) { const e = new Error("path is not a directory: " + a); e.code = "ENOTDIR"; throw e; } ok = walk(a, Math.max(1, Number(b) || 1), []); }
  else if (op === "prepare" || op === "own") {
    const pw = fs.readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":")).find((f) => f[0] === b);
    if (!pw) { const e = new Error("no such user: " + b); e.code = "EINVAL"; throw e; }
    const uid = Number(pw[2]), gid = Number(pw[3]);
    if (op === "own") fs.chownSync(a, uid, gid);
    else {
      // As envd does: the parents a write needs are made, and the ones made are the user's.
      const missing = [];
      for (let d = path.dirname(a); !fs.existsSync(d); d = path.dirname(d)) missing.unshift(d);
      for (const d of missing) { fs.mkdirSync(d); fs.chownSync(d, uid, gid); }
    }
    ok = {};
  }
  else if (op === "remove") { fs.rmSync(a, { recursive: true, force: true }); ok = {}; }
  process.stdout.write(JSON.stringify({ ok }));
} catch (e) {
  process.stdout.write(JSON.stringify({ err: { errno: e.code || "EIO", message: e.code === "ENOENT" ? "path not found: " + (e.path || a) : e.message } }));
}
`;

const CODE_OF: Record<string, ConnectCode> = {
  ENOENT: "not_found",
  EEXIST: "already_exists",
  ENOTDIR: "invalid_argument",
  EISDIR: "invalid_argument",
  ENOTEMPTY: "failed_precondition",
  EACCES: "permission_denied",
  EINVAL: "invalid_argument",
  EPERM: "permission_denied",
  ENOSPC: "resource_exhausted",
};

/** The home directory relative paths start from, as E2B resolves them for a user. */
export function homeOf(user: string | undefined): string {
  return !user || user === "root" ? "/root" : `/home/${user}`;
}

/** `path` made absolute against the user's home, as envd does, and normalised. */
export function resolvePath(path: string, user: string | undefined): string {
  if (typeof path !== "string" || path.length === 0) {
    throw new ConnectError("invalid_argument", "path is required");
  }
  if (path.includes("\0")) throw new ConnectError("invalid_argument", "path must not contain NUL");
  if (path.length > 4096)
    throw new ConnectError("invalid_argument", "path is at most 4096 characters");
  const home = homeOf(user);
  const expanded = path === "~" ? home : path.startsWith("~/") ? home + path.slice(1) : path;
  return posix.resolve(home, expanded);
}

/** Runs the file operations of E2B's filesystem service inside a sandbox. */
export class FilesystemOps {
  constructor(private readonly router: DataPlaneRouter) {}

  stat(vmId: string, path: string, user?: string): Promise<EntryInfo> {
    return this.#run(vmId, user, ["stat", path]);
  }

  makeDir(vmId: string, path: string, user?: string): Promise<EntryInfo> {
    return this.#run(vmId, user, ["mkdir", path]);
  }

  move(vmId: string, from: string, to: string, user?: string): Promise<EntryInfo> {
    return this.#run(vmId, user, ["move", from, to]);
  }

  list(vmId: string, path: string, depth: number, user?: string): Promise<EntryInfo[]> {
    return this.#run(vmId, user, ["list", path, String(depth)]);
  }

  /**
   * Before `user` uploads to `path` (the data plane writes as root): makes the missing parent
   * directories and gives them to the user, as envd does for a write.
   */
  async prepareWrite(vmId: string, path: string, user: string): Promise<void> {
    await this.#run(vmId, "root", ["prepare", path, user]);
  }

  /** After such an upload: gives the file to `user`, as if the user had written it. */
  async own(vmId: string, path: string, user: string): Promise<void> {
    await this.#run(vmId, "root", ["own", path, user]);
  }

  async remove(vmId: string, path: string, user?: string): Promise<void> {
    await this.#run(vmId, user, ["remove", path]);
  }

  async #run<T>(vmId: string, user: string | undefined, args: string[]): Promise<T> {
    const result = await this.router.execute(vmId, {
      command: NODE,
      args: ["-e", SCRIPT, ...args],
      ...(user ? { user } : {}),
      timeoutMs: 60_000,
    });
    let parsed: { ok?: T; err?: { errno: string; message: string } };
    try {
      parsed = JSON.parse(result.stdout) as typeof parsed;
    } catch {
      // The program did not run (no such user, say): what it printed is the reason.
      const why = (result.stderr || result.stdout).trim().slice(0, 500);
      throw new ConnectError(
        "internal",
        `file operation failed: ${why || `exit ${result.exitCode}`}`,
      );
    }
    if (parsed.err) {
      throw new ConnectError(CODE_OF[parsed.err.errno] ?? "internal", parsed.err.message);
    }
    return parsed.ok as T;
  }
}
