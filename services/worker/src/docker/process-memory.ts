import { readFile } from "node:fs/promises";
import path from "node:path";

/**
 * Proportional set size of every process in the memory cgroup of `pid`, summed from
 * `/proc/<pid>/smaps_rollup`: shared pages count once per sharer. Linux only; needs root.
 */
export async function processGroupPss(pid: number): Promise<number> {
  const pids = await cgroupProcs(pid);
  let total = 0;
  for (const p of pids) {
    const rollup = await readFile(`/proc/${p}/smaps_rollup`, "utf8").catch(() => "");
    const kb = /^Pss:\s+(\d+) kB/m.exec(rollup)?.[1];
    if (kb !== undefined) total += Number(kb) * 1024;
  }
  return total;
}

/** Pids in the same memory cgroup as `pid` (cgroup v1 or v2), read from the host's view. */
async function cgroupProcs(pid: number): Promise<number[]> {
  const lines = (await readFile(`/proc/${pid}/cgroup`, "utf8")).split("\n");
  const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  const v2 = lines.find((l) => l.startsWith("0::"));
  const file =
    v1 !== undefined
      ? path.join("/sys/fs/cgroup/memory", v1.slice(v1.lastIndexOf(":") + 1), "cgroup.procs")
      : v2 !== undefined
        ? path.join("/sys/fs/cgroup", v2.slice(3), "cgroup.procs")
        : undefined;
  if (file === undefined) return [pid];
  const text = await readFile(file, "utf8").catch(() => String(pid));
  return text
    .split("\n")
    .filter(Boolean)
    .map(Number)
    .filter((n) => n > 0);
}
