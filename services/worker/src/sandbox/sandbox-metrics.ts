import { UnavailableError } from "@aetherium/common";
import type { VmMetrics } from "@aetherium/types";
import type { SandboxManager } from "./sandbox-manager.js";

/**
 * Read inside the sandbox by its agent, so one script serves containers (cgroup v1 or v2) and
 * microVMs alike: CPU time twice, half a second apart (the cgroup's own counter, or /proc/stat in
 * a VM), the CPU quota, memory from the cgroup when it has a limit (else /proc/meminfo, which in a
 * VM is the VM's), and `df` of `/`. Only POSIX sh builtins, cat, date, sleep, nproc and df.
 */
const SAMPLE_SCRIPT = String.raw`
cg=/sys/fs/cgroup
usage() {
  if [ -r $cg/cpu.stat ]; then
    while read k v; do [ "$k" = usage_usec ] && echo $((v * 1000)); done < $cg/cpu.stat
  elif [ -r $cg/cpuacct/cpuacct.usage ]; then cat $cg/cpuacct/cpuacct.usage
  else read c us ni sy id io irq si st rest < /proc/stat; echo $(( (us+ni+sy+irq+si+st) * 10000000 ))
  fi
}
echo "u0=$(usage)"; echo "t0=$(date +%s%N)"
sleep 0.5
echo "u1=$(usage)"; echo "t1=$(date +%s%N)"
[ -r $cg/cpu.max ] && echo "cpumax=$(cat $cg/cpu.max)"
[ -r $cg/cpu/cpu.cfs_quota_us ] && echo "cpumax=$(cat $cg/cpu/cpu.cfs_quota_us) $(cat $cg/cpu/cpu.cfs_period_us)"
echo "nproc=$(nproc)"
if [ -r $cg/memory.max ]; then
  echo "memmax=$(cat $cg/memory.max)"; echo "memcur=$(cat $cg/memory.current)"
  while read k v; do case $k in inactive_file) echo "inactive=$v";; file) echo "file=$v";; esac; done < $cg/memory.stat
elif [ -r $cg/memory/memory.limit_in_bytes ]; then
  echo "memmax=$(cat $cg/memory/memory.limit_in_bytes)"; echo "memcur=$(cat $cg/memory/memory.usage_in_bytes)"
  while read k v; do case $k in total_inactive_file) echo "inactive=$v";; cache) echo "file=$v";; esac; done < $cg/memory/memory.stat
fi
while read k v rest; do
  case $k in MemTotal:) echo "memtotal=$((v * 1024))";; MemAvailable:) echo "memavail=$((v * 1024))";; Cached:) echo "cached=$((v * 1024))";; esac
done < /proc/meminfo
df -P -B1 / | { read h; read fs total used rest; echo "disktotal=$total"; echo "diskused=$used"; }
`;

/** Takes one metrics sample of a running sandbox of this worker (about half a second). */
export async function sampleSandboxMetrics(
  manager: SandboxManager,
  sandboxId: string,
): Promise<VmMetrics> {
  const chunks: Buffer[] = [];
  // Not an `executions` record: reading metrics is not a command the user ran.
  const proc = await manager.startProcess(
    sandboxId,
    { shell: SAMPLE_SCRIPT, user: "root", timeoutMs: 10_000 },
    { onStdout: (b) => void chunks.push(b) },
  );
  const result = await proc.done;
  const values = parse(Buffer.concat(chunks).toString("utf8"));
  if (result.exitCode !== 0 || values.t1 === undefined) {
    throw new UnavailableError(`could not read the metrics of sandbox ${sandboxId}`);
  }
  return toMetrics(values, new Date());
}

function parse(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return out;
}

/** The sample from the script's `key=value` lines. */
function toMetrics(v: Record<string, string>, at: Date): VmMetrics {
  const num = (k: string): number | undefined => {
    const n = Number(v[k]);
    return v[k] !== undefined && v[k] !== "" && Number.isFinite(n) ? n : undefined;
  };
  const nproc = Math.max(1, num("nproc") ?? 1);
  const [quota, period] = (v.cpumax ?? "").split(" ").map(Number);
  const cpus =
    quota !== undefined && period !== undefined && quota > 0 && period > 0
      ? Math.min(nproc, quota / period)
      : nproc;
  const busyNs = (num("u1") ?? 0) - (num("u0") ?? 0);
  const wallNs = (num("t1") ?? 0) - (num("t0") ?? 0);
  const pct = wallNs > 0 ? (busyNs / (wallNs * cpus)) * 100 : 0;

  const memTotalHost = num("memtotal") ?? 0;
  const limit = num("memmax");
  // A cgroup without a limit reports "max" (v2) or a huge number (v1): the machine's memory then.
  const limited = limit !== undefined && limit > 0 && (memTotalHost === 0 || limit < memTotalHost);
  const memTotal = limited ? limit : memTotalHost;
  const memUsed = limited
    ? (num("memcur") ?? 0) - (num("inactive") ?? 0)
    : memTotalHost - (num("memavail") ?? memTotalHost);
  const memCache = limited ? (num("file") ?? 0) : (num("cached") ?? 0);
  const int = (n: number) => Math.max(0, Math.round(n));
  return {
    cpuCount: Math.max(1, Math.ceil(cpus)),
    cpuUsedPct: Math.min(100, Math.max(0, Math.round(pct * 100) / 100)),
    memUsed: int(Math.min(memUsed, memTotal)),
    memTotal: int(memTotal),
    memCache: int(memCache),
    diskUsed: int(num("diskused") ?? 0),
    diskTotal: int(num("disktotal") ?? 0),
    timestamp: at.toISOString(),
  };
}
