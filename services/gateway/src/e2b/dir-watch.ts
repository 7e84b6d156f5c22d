import { randomUUID } from "node:crypto";
import { posix } from "node:path";
import { ConnectError } from "./connect-protocol.js";
import type { EntryInfo, FilesystemOps } from "./filesystem-ops.js";

/**
 * E2B's `FilesystemEvent` in its JSON form: `name` is relative to the watched directory; `entry`
 * (asked for with `includeEntry`) is what the entry is after the change, absent for a removal.
 */
export interface FilesystemEvent {
  readonly name: string;
  readonly type:
    "EVENT_TYPE_CREATE" | "EVENT_TYPE_WRITE" | "EVENT_TYPE_REMOVE" | "EVENT_TYPE_CHMOD";
  readonly entry?: EntryInfo;
}

/** How deep a recursive watch looks. */
const RECURSIVE_DEPTH = 32;
/** Most watchers (streams and polling ones together) one gateway keeps. */
const MAX_WATCHERS = 1000;
/** A polling watcher nobody asked for events within this long is dropped. */
const IDLE_MS = 10 * 60_000;

/** What one entry was at one look: what a change would alter, and the entry itself. */
interface Seen {
  readonly mode: number;
  readonly size: string;
  readonly mtime: string;
  readonly dir: boolean;
  readonly entry?: EntryInfo;
}

/** What a directory held at one moment: relative name → what it was. */
type Snapshot = Map<string, Seen>;

/** One watch: what to look at, and what it held the last time. */
export interface WatchSpec {
  readonly vmId: string;
  readonly path: string;
  readonly recursive: boolean;
  readonly user: string | undefined;
  /** `includeEntry`: each event carries the entry's info (envd 0.6.3). */
  readonly includeEntry: boolean;
}

/**
 * Directory watching for E2B's `WatchDir` and its polling watchers, built on listings rather
 * than on inotify (the agent has no watch message): each look lists the directory and compares
 * it with the previous look. So a file created and removed between two looks goes unseen, a
 * rename shows as a remove and a create, and events come at the pace of the looks. Looking works
 * on any filesystem, network mounts (NFS, CIFS, FUSE) included, where inotify sees nothing: so
 * `allowNetworkMounts` (envd 0.6.4) is accepted and every watch behaves as if it were set.
 */
export class DirWatches {
  readonly #files: FilesystemOps;
  readonly #polling = new Map<string, { spec: WatchSpec; last: Snapshot; usedAt: number }>();
  #streams = 0;

  constructor(files: FilesystemOps) {
    this.#files = files;
  }

  /** What the directory holds now; `not_found` or `invalid_argument` when it is not one. */
  async snapshot(spec: WatchSpec): Promise<Snapshot> {
    const entries = await this.#files.list(
      spec.vmId,
      spec.path,
      spec.recursive ? RECURSIVE_DEPTH : 1,
      spec.user,
    );
    const snap: Snapshot = new Map();
    for (const e of entries)
      snap.set(relative(spec.path, e), {
        mode: e.mode,
        size: e.size,
        mtime: e.modifiedTime,
        dir: e.type === "FILE_TYPE_DIRECTORY",
        ...(spec.includeEntry ? { entry: e } : {}),
      });
    return snap;
  }

  /** Reserves a slot for a streaming watch; call the returned release when it ends. */
  openStream(): () => void {
    this.#reserve();
    this.#streams++;
    let released = false;
    return () => {
      if (!released) this.#streams--;
      released = true;
    };
  }

  /** `CreateWatcher`: remembers what the directory holds now; returns the watcher's id. */
  async create(spec: WatchSpec): Promise<string> {
    this.#reserve();
    const last = await this.snapshot(spec);
    const id = randomUUID();
    this.#polling.set(id, { spec, last, usedAt: Date.now() });
    return id;
  }

  /** `GetWatcherEvents`: what changed since the last call (or the creation). */
  async events(vmId: string, id: string): Promise<FilesystemEvent[]> {
    const w = this.#polling.get(id);
    if (!w || w.spec.vmId !== vmId) throw new ConnectError("not_found", `watcher ${id} not found`);
    const now = await this.snapshot(w.spec);
    const changes = diff(w.last, now);
    w.last = now;
    w.usedAt = Date.now();
    return changes;
  }

  /** `RemoveWatcher`. */
  remove(vmId: string, id: string): void {
    const w = this.#polling.get(id);
    if (!w || w.spec.vmId !== vmId) throw new ConnectError("not_found", `watcher ${id} not found`);
    this.#polling.delete(id);
  }

  #reserve(): void {
    const now = Date.now();
    for (const [id, w] of this.#polling) if (w.usedAt < now - IDLE_MS) this.#polling.delete(id);
    if (this.#polling.size + this.#streams >= MAX_WATCHERS) {
      throw new ConnectError(
        "resource_exhausted",
        `at most ${MAX_WATCHERS} directory watchers at once`,
      );
    }
  }
}

function relative(root: string, e: EntryInfo): string {
  return posix.relative(root, e.path) || e.name;
}

/**
 * The events that turn `before` into `after`, creations first, in name order; each carries the
 * entry as `after` saw it when the looks kept entries (`includeEntry`).
 */
export function diff(before: Snapshot, after: Snapshot): FilesystemEvent[] {
  const out: FilesystemEvent[] = [];
  const event = (name: string, type: FilesystemEvent["type"], now?: Seen): FilesystemEvent =>
    now?.entry ? { name, type, entry: now.entry } : { name, type };
  for (const [name, now] of [...after].sort(([a], [b]) => a.localeCompare(b))) {
    const was = before.get(name);
    if (!was) {
      out.push(event(name, "EVENT_TYPE_CREATE", now));
      // A file that has content was written too: inotify would have said both.
      if (now.size !== "0" && !now.dir) out.push(event(name, "EVENT_TYPE_WRITE", now));
    } else if (was.size !== now.size || was.mtime !== now.mtime)
      out.push(event(name, "EVENT_TYPE_WRITE", now));
    else if (was.mode !== now.mode) out.push(event(name, "EVENT_TYPE_CHMOD", now));
  }
  for (const name of [...before.keys()].sort()) {
    if (!after.has(name)) out.push({ name, type: "EVENT_TYPE_REMOVE" });
  }
  return out;
}
