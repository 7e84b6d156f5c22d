import { readFileSync, readdirSync, readlinkSync } from "node:fs";

/*
 * Process-tree helpers over /proc. The agent needs them because Node only knows the pids it
 * spawned: killing everything a command started, finding the terminal of a PTY process and its
 * foreground process group all need the kernel's view.
 */

/** The fields of `/proc/<pid>/stat` the agent uses. */
export interface ProcStat {
  ppid: number;
  pgrp: number;
  session: number;
  /** Foreground process group of the process's controlling terminal, or -1. */
  tpgid: number;
}

/** Reads `/proc/<pid>/stat`; `undefined` when the process is gone. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state): ppid 4, pgrp 5, session 6, tty_nr 7, tpgid 8.
  return {
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    session: Number(rest[3]),
    tpgid: Number(rest[5]),
  };
}

/** Direct children of `pid` (empty when it has none or is gone). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter((s) => s !== "")
      .map(Number);
  } catch {
    return [];
  }
}

/** Sends `signal` to a process group; false when no member exists any more. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Sends `signal` to every process of session `sid`: its process group first, then (scanning /proc)
 * members that moved to other groups, such as jobs of a shell with job control. Processes that
 * called setsid() themselves (daemons) have left the session and are not touched.
 */
export function signalSession(sid: number, signal: NodeJS.Signals): void {
  signalGroup(sid, signal);
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const stat = readProcStat(pid);
    if (stat?.session !== sid) continue;
    try {
      process.kill(pid, signal);
    } catch {
      // Exited meanwhile.
    }
  }
}

/** The target of a `/proc/<pid>/fd/<fd>` link, or undefined. */
export function fdTarget(pid: number, fd: string | number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** The fd numbers `pid` has open. */
export function openFds(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
}

/** Environment variable that marks every process of one exec (and everything it starts). */
export const EXEC_MARKER_ENV = "AETHERIUM_EXEC";

/** Whether a NUL-separated environment block holds the whole entry `needle` (`NAME=value\0`). */
function holdsEntry(env: Buffer, needle: Buffer): boolean {
  // Match a whole entry: at the start or right after a NUL, never inside another value.
  for (let at = env.indexOf(needle); at >= 0; at = env.indexOf(needle, at + 1)) {
    if (at === 0 || env[at - 1] === 0) return true;
  }
  return false;
}

/** Pids of the processes whose environment holds `name=value` (never the agent itself). */
export function pidsWithEnv(name: string, value: string): number[] {
  const needle = Buffer.from(`${name}=${value}\0`);
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let env: Buffer;
    try {
      env = readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue; // Exited meanwhile, or not ours to read.
    }
    if (holdsEntry(env, needle)) out.push(pid);
  }
  return out;
}

/** Direct children of `pid` as its main thread sees them; `undefined` when they cannot be read. */
function childrenOf(pid: number): number[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/task/${pid}/children`, "latin1");
  } catch {
    return undefined;
  }
  const out: number[] = [];
  for (const s of text.split(" ")) if (s !== "" && s !== "\n") out.push(Number(s));
  return out;
}

/** Ancestors of the agent walked at most this far (a sandbox has two; a test host a dozen). */
const MAX_ANCESTORS = 64;

/**
 * Whether any process may still carry `name=value` once an exec's main process has exited,
 * looking only where such a process can be: when a process dies its children are handed to the
 * nearest ancestor that is a child subreaper, else to the namespace's init, so every process left
 * of the exec is, or descends from, a direct child of the agent or of one of its ancestors. Only
 * those children's environments are read (in a sandbox: the agent's running commands, and the
 * agent itself under tini), never all of `/proc`; the kernel hands an orphan to the reaper's
 * first live thread, its main thread, whose `children` file is the one read. A process that
 * dropped the marker while its descendants kept it is not seen here, as in a full sweep one that
 * dropped it is not. True when the kernel's view cannot be read (no `children` file), so the
 * caller falls back to the full sweep.
 *
 * Synchronous on purpose: a few reads of small /proc files take microseconds each, less than
 * one round trip through libuv's thread pool, and this runs once per exec.
 */
export function mayHaveMarked(name: string, value: string): boolean {
  const needle = Buffer.from(`${name}=${value}\0`);
  const reapers: number[] = [];
  for (let pid = process.pid; pid > 0 && reapers.length < MAX_ANCESTORS;) {
    reapers.push(pid);
    const parent = pid === process.pid ? process.ppid : readProcStat(pid)?.ppid;
    if (parent === undefined || Number.isNaN(parent)) break;
    pid = parent;
  }
  const candidates = new Set<number>();
  for (const [i, pid] of reapers.entries()) {
    const kids = childrenOf(pid);
    if (kids === undefined && i === 0) return true;
    for (const kid of kids ?? []) candidates.add(kid);
  }
  for (const pid of reapers) candidates.delete(pid);
  for (const pid of candidates) {
    let env: Buffer;
    try {
      env = readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue; // Exited meanwhile, or not ours to read.
    }
    if (holdsEntry(env, needle)) return true;
  }
  return false;
}

/**
 * SIGKILLs every process whose environment holds `name=value`, scanning /proc again until a scan
 * finds none (a fork bomb refills the table as fast as it is emptied, but each round kills every
 * process that could fork) or `maxMs` has passed. Resolves to how many kills were sent.
 */
export async function killMarked(name: string, value: string, maxMs = 10_000): Promise<number> {
  const deadline = Date.now() + maxMs;
  let kills = 0;
  for (let round = 0; round < 10_000 && Date.now() < deadline; round++) {
    const pids = pidsWithEnv(name, value);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
        kills++;
      } catch {
        // Exited meanwhile.
      }
    }
    // Yield between rounds: the agent keeps answering while a big tree dies.
    await new Promise((r) => setTimeout(r, round < 10 ? 0 : 20));
  }
  return kills;
}
