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
    // environ is NUL-separated; match a whole entry (at the start or after a NUL).
    const at = env.indexOf(needle);
    if (at === 0 || (at > 0 && env[at - 1] === 0)) out.push(pid);
  }
  return out;
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
