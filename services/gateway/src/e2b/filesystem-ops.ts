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
  /** User-defined metadata: the file's `user.e2b.*` extended attributes, prefix stripped. */
  readonly metadata?: Record<string, string>;
}

/** Where the node binary every sandbox image carries (it runs the agent) lives. */
const NODE = "/usr/local/bin/node";

/**
 * Extended attributes, which node cannot reach without a native module: python3 (in the base
 * image, as in E2B's) reads and writes them. It takes one JSON request on stdin: `{get: paths}`
 * answers each path's `user.e2b.*` attributes (prefix stripped; unreadable ones skipped), and
 * `{set: path, meta}` makes the file's metadata exactly `meta`, removing keys not in it.
 */
const XATTR_PROGRAM = String.raw`
import json, os, sys
P = "user.e2b."
req = json.load(sys.stdin)
def get(p):
    out = {}
    try:
        for n in os.listxattr(p, follow_symlinks=False):
            if n.startswith(P):
                out[n[len(P):]] = os.getxattr(p, n, follow_symlinks=False).decode("latin-1")
    except OSError:
        pass
    return out
if "set" in req:
    p, meta = req["set"], req["meta"]
    for n in os.listxattr(p):
        if n.startswith(P) and n[len(P):] not in meta:
            os.removexattr(p, n)
    for k, v in meta.items():
        os.setxattr(p, P + k, v.encode("latin-1"))
    print("{}")
else:
    print(json.dumps({p: m for p in req["get"] for m in [get(p)] if m}))
`;

/**
 * The file operations the agent has no message for (stat, mkdir, move, a deep listing), run as
 * one small node program inside the sandbox: it prints one JSON line, `{ok}` or `{err}`, so a
 * failure comes back with its errno mapped to a Connect code instead of as a shell's message.
 * Kept self-contained (it is passed with `node -e`) and free of user input: paths are arguments.
 */
const SCRIPT = String.raw`
const fs = require("fs"), path = require("path"), cp = require("child_process");
const XATTR = ${JSON.stringify(XATTR_PROGRAM)};
// null when python3 is not in the image: then no file has metadata to show.
function xattr(req) {
  const r = cp.spawnSync("python3", ["-c", XATTR], { input: JSON.stringify(req), encoding: "utf8", maxBuffer: 256 << 20 });
  if (r.error && r.error.code === "ENOENT") return null;
  if (r.error || r.status !== 0) { const e = new Error("file metadata: " + String(r.error ? r.error.message : r.stderr).trim().split("\n").pop()); e.code = "EIO"; throw e; }
  return JSON.parse(r.stdout);
}
function withMeta(entries) {
  const m = entries.length ? xattr({ get: entries.map((e) => e.path) }) : null;
  if (m) for (const e of entries) if (m[e.path]) e.metadata = m[e.path];
  return entries;
}
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
function account(name) {
  const pw = fs.readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":")).find((f) => f[0] === name);
  if (!pw) { const e = new Error("no such user: " + name); e.code = "EINVAL"; throw e; }
  return [Number(pw[2]), Number(pw[3])];
}
const [op, a, b, c] = process.argv.slice(1);
try {
  let ok;
  if (op === "stat") ok = withMeta([info(a)])[0];
  else if (op === "mkdir") { if (fs.existsSync(a)) { const e = new Error("directory already exists: " + a); e.code = "EEXIST"; throw e; } fs.mkdirSync(a, { recursive: true }); ok = withMeta([info(a)])[0]; }
  else if (op === "move") { fs.renameSync(a, b); ok = withMeta([info(b)])[0]; }
  else if (op === "list") { if (!fs.statSync(a).isDirectory()) { const e = new Error("path is not a directory: " + a); e.code = "ENOTDIR"; throw e; } ok = withMeta(walk(a, Math.max(1, Number(b) || 1), [])); }
  else if (op === "finish") {
    // After an upload: the file is the user's (b, unless root), and its metadata becomes exactly
    // what the upload sent (none clears it).
    if (b) { const [uid, gid] = account(b); fs.chownSync(a, uid, gid); }
    const meta = JSON.parse(c);
    if (xattr({ set: a, meta }) === null && Object.keys(meta).length > 0) { const e = new Error("file metadata needs python3 in the sandbox image"); e.code = "ENOTSUP"; throw e; }
    ok = withMeta([info(a)])[0];
  }
  else if (op === "prepare") {
    // As envd does: the parents a write needs are made, and the ones made are the user's.
    const [uid, gid] = account(b);
    const missing = [];
    for (let d = path.dirname(a); !fs.existsSync(d); d = path.dirname(d)) missing.unshift(d);
    for (const d of missing) { fs.mkdirSync(d); fs.chownSync(d, uid, gid); }
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
  ENOTSUP: "failed_precondition",
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

  /**
   * After an upload to `path` (written by the data plane as root): gives the file to `user`
   * (unless root), and makes its metadata exactly `metadata`, as envd does for each upload
   * (an upload without metadata clears what an earlier one stored). Answers the file's entry.
   */
  async finishWrite(
    vmId: string,
    path: string,
    user: string,
    metadata: Readonly<Record<string, string>>,
  ): Promise<EntryInfo> {
    const owner = user === "root" ? "" : user;
    return this.#run(vmId, "root", ["finish", path, owner, JSON.stringify(metadata)]);
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
