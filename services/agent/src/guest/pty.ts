import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import type { AgentPtySize } from "@aetherium/types";
import { childPids, fdTarget, openFds, readProcStat } from "./proc.js";

/*
 * PTY without a native module. node-pty needs a compiled addon per guest architecture and Node ABI,
 * and no Python exists in the image. util-linux `script` (package bsdutils, Essential in Debian)
 * allocates a real pseudo-terminal, makes it the controlling terminal of a new session, and copies
 * bytes between our pipes and the pty master. What `script` cannot do with pipes on its side is
 * resize (it copies the size from its own stdin, which is a pipe). The kernel does it for us
 * instead: TIOCSWINSZ on the slave (`stty -F /dev/pts/N rows R cols C`, run by the agent) changes
 * the size and sends SIGWINCH to the terminal's foreground process group, exactly as a terminal
 * emulator's resize does. The slave is found through the `tty-index` the kernel reports for the
 * ptmx fd that `script` holds (/proc/<pid>/fdinfo, Linux ≥ 4.14), or else through the stdin of
 * `script`'s child.
 *
 * A terminal for another user is made by root, not by that user: the agent keeps `script` (the
 * holder of the master) its own, and the setup shell drops to the user (util-linux `setpriv`)
 * just before it execs the command. Root without CAP_SYS_PTRACE (a container's) cannot read the
 * /proc/<pid>/fd of another user's process, so a `script` run as the user would hide its terminal
 * from the resize; run as root it does not. The setup shell gives the slave to the user, as a
 * login does, so the user's programs may open it again.
 */

/** The program that provides the pseudo-terminal. */
export const SCRIPT_PATH = "script";

/**
 * A no-op word the setup shell's command line starts with. While the session leader's cmdline
 * still holds it, the initial `stty` may not have run yet, and a resize applied then would be
 * undone by it; once the leader has exec'd the command, the mark is gone.
 */
export const PTY_SETUP_MARK = ": aetherium-pty-setup;";

/** Quotes one word for POSIX sh. */
export function shQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The user a terminal's command runs as, when not the agent's own. */
export interface PtyUser {
  readonly uid: number;
  readonly gid: number;
  /** In the passwd file: its supplementary groups are looked up; else it gets none. */
  readonly named: boolean;
}

/**
 * The argv that runs `argv` in a new pseudo-terminal of `size`. The size is set inside the session
 * before the command starts, so it sees the right size from its first ioctl. `script` runs its
 * `-c` string with `$SHELL -c`; `SHELL` is forced to /bin/sh for that and restored (or unset) for
 * the command itself. With `asUser`, `script` stays the caller's and only the command becomes
 * that user's.
 */
export function ptyArgv(
  argv: readonly string[],
  size: AgentPtySize,
  shellEnv: string | undefined,
  asUser?: PtyUser,
): string[] {
  const restore =
    shellEnv === undefined ? "unset SHELL; " : `SHELL=${shQuote(shellEnv)}; export SHELL; `;
  const drop =
    asUser === undefined
      ? ""
      : `setpriv --reuid=${asUser.uid} --regid=${asUser.gid} ${
          asUser.named ? "--init-groups" : "--clear-groups"
        } -- `;
  const give =
    asUser === undefined ? "" : `chown ${asUser.uid}:${asUser.gid} "$(tty)" 2>/dev/null; `;
  const inner = `${PTY_SETUP_MARK} stty rows ${size.rows} cols ${size.cols} 2>/dev/null; ${give}${restore}exec ${drop}${argv
    .map(shQuote)
    .join(" ")}`;
  // -q: no banner; -e: exit with the child's status; -E always: echo input like a terminal does;
  // /dev/null: no typescript file.
  return [SCRIPT_PATH, "-q", "-e", "-E", "always", "-c", inner, "/dev/null"];
}

/** The session leader `script` forked (the command), once it exists. */
export function ptySessionLeader(scriptPid: number): number | undefined {
  for (const pid of childPids(scriptPid)) {
    const stat = readProcStat(pid);
    if (stat?.session === pid) return pid;
  }
  return undefined;
}

/**
 * Whether the terminal's setup (the initial size) is over: the session leader has exec'd the
 * command, or is gone. False while `script` has not forked it yet.
 */
export function ptySetupDone(scriptPid: number): boolean {
  const leader = ptySessionLeader(scriptPid);
  if (leader === undefined) return false;
  try {
    return !readFileSync(`/proc/${leader}/cmdline`, "utf8").includes(PTY_SETUP_MARK);
  } catch {
    return true;
  }
}

/** The `/dev/pts/N` of the pseudo-terminal `script` (pid `scriptPid`) holds, once it exists. */
export function findPtySlave(scriptPid: number): string | undefined {
  for (const fd of openFds(scriptPid)) {
    const target = fdTarget(scriptPid, fd);
    if (target === undefined || !/\/ptmx$/.test(target)) continue;
    try {
      const info = readFileSync(`/proc/${scriptPid}/fdinfo/${fd}`, "utf8");
      const m = /^tty-index:\s*(\d+)/m.exec(info);
      if (m !== null) return `/dev/pts/${m[1]}`;
    } catch {
      // Fall through to the child's stdin.
    }
  }
  const leader = ptySessionLeader(scriptPid);
  const target = leader === undefined ? undefined : fdTarget(leader, 0);
  return target?.startsWith("/dev/pts/") ? target : undefined;
}

/** Sets the size of terminal `slave`; the kernel sends SIGWINCH to its foreground group. */
export function setPtySize(slave: string, size: AgentPtySize): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      "stty",
      ["-F", slave, "rows", String(size.rows), "cols", String(size.cols)],
      { timeout: 5000 },
      (err) => (err === null ? resolve() : reject(new Error(`stty -F ${slave}: ${err.message}`))),
    );
  });
}
