/**
 * The per-sandbox host directory that holds the guest agent's socket. It is bind-mounted into the
 * sandbox (the agent must be able to bind its socket there), so whatever the guest writes there
 * lands on the host: each one is therefore its own tiny tmpfs, and a guest that fills it fills a
 * few KiB of memory, not the host's disk or the `/run` that systemd and dockerd share.
 * @module
 */
import { execFile } from "node:child_process";
import { mkdir, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Size of each run directory's tmpfs: room for the socket (which takes no data blocks) and the
 * odd small file, nothing more.
 */
export const RUN_DIR_TMPFS_BYTES = 64 * 1024;

/** Inodes each run directory's tmpfs has: the socket and a handful of entries. */
export const RUN_DIR_TMPFS_INODES = 32;

/** Whether `dir` is the root of a mount (its device differs from its parent's). */
async function isMountPoint(dir: string): Promise<boolean> {
  const [self, parent] = await Promise.all([stat(dir), stat(path.dirname(dir))]);
  return self.dev !== parent.dev;
}

/**
 * Makes `dir` exist as a size-bounded tmpfs owned by root with mode 0700; a directory that
 * already is a mount (a sandbox restarted, a worker restarted) is left as it is. Throws when the
 * tmpfs cannot be mounted (the worker is not root): an unbounded directory is never handed out.
 */
export async function ensureBoundedRunDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (await isMountPoint(dir)) return;
  const options = [
    `size=${RUN_DIR_TMPFS_BYTES}`,
    `nr_inodes=${RUN_DIR_TMPFS_INODES}`,
    "mode=0700",
    "uid=0",
    "gid=0",
    "nosuid",
    "nodev",
    "noexec",
  ].join(",");
  try {
    await run("mount", ["-t", "tmpfs", "-o", options, "aetherium-run", dir]);
  } catch (err) {
    // Another create of the same sandbox may have won the race: that mount is as good as ours.
    if (await isMountPoint(dir).catch(() => false)) return;
    const e = err as Error & { stderr?: string };
    throw new Error(
      `cannot mount the sandbox's run directory ${dir} as a bounded tmpfs (the worker must run as root): ${(e.stderr ?? e.message).trim()}`,
      { cause: err },
    );
  }
}

/**
 * Whether `dir` is a plain directory with something in it: the run directory of a sandbox created
 * before run directories were bounded, which a running container still uses (mounting over it
 * would hide its agent's socket from the worker).
 */
export async function isUnboundedRunDir(dir: string): Promise<boolean> {
  const entries = await readdir(dir).catch(() => []);
  return entries.length > 0 && !(await isMountPoint(dir));
}

/** Unmounts (if mounted) and removes a run directory; a missing one is fine. */
export async function removeRunDir(dir: string): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const mounted = await isMountPoint(dir).catch(() => false);
    if (!mounted) break;
    // Lazy: a container being torn down may still hold it for a moment.
    await run("umount", ["-l", dir]).catch(() => undefined);
  }
  await rm(dir, { recursive: true, force: true });
}
