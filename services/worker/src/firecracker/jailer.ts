/**
 * Firecracker under its jailer: the jailer makes a chroot per VM
 * (`<chrootBaseDir>/<exec file name>/<id>/root`), puts the VMM in its own cgroup (limits as
 * `<file>=<value>`), drops to an unprivileged uid/gid and execs `firecracker`, whose API socket
 * then lies inside the chroot (`/run/firecracker.socket`). Every path Firecracker is given is a
 * path inside the chroot, so the VM's kernel, disk, vsock socket and FIFOs live there too.
 * @module
 */
import path from "node:path";

/** How a worker runs Firecracker under the jailer. */
export interface JailerSettings {
  /** The `jailer` binary (of the same release as `firecracker`). */
  readonly binary: string;
  /** The uid and gid the VMM runs as once jailed; never root. */
  readonly uid: number;
  readonly gid: number;
  /** Where chroots are made; the jailer's default is `/srv/jailer`. */
  readonly chrootBaseDir: string;
  /** The host's cgroup version; default 2. */
  readonly cgroupVersion?: 1 | 2;
  /** A cgroup (relative to the root) every VM's cgroup is made under, e.g. `aetherium`. */
  readonly parentCgroup?: string;
}

/** One VM's jailer invocation. */
export interface JailedVm {
  /** Jail id: the sandbox's, as the jailer allows (letters, digits, hyphens; 64 at most). */
  readonly id: string;
  /** The `firecracker` binary the jailer copies into the chroot and execs. */
  readonly firecrackerBinary: string;
  readonly vcpus: number;
  readonly memoryMb: number;
  /** Largest number of tasks in the VMM's cgroup (the VMM's own threads: vCPUs, I/O). */
  readonly pidsLimit?: number;
  /** A network namespace (`/var/run/netns/<name>`) the VMM joins. */
  readonly netns?: string;
}

/** The jailer's default API socket, inside the chroot. */
const JAILED_API_SOCKET = "/run/firecracker.socket";
/** CFS period of the CPU limit, in microseconds. */
const CPU_PERIOD_US = 100_000;

/** Where a jailed VM's files are on the host. */
export interface JailPaths {
  /** The chroot: paths Firecracker is given are relative to it. */
  readonly root: string;
  /** The API socket, as the host reaches it. */
  readonly apiSocket: string;
}

function jailId(id: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) {
    throw new Error(`${JSON.stringify(id)} is no jailer id (letters, digits and hyphens, ≤ 64)`);
  }
  return id;
}

/** The chroot and API socket of `vm` under `settings`. */
export function jailPaths(settings: JailerSettings, vm: JailedVm): JailPaths {
  const root = path.join(
    settings.chrootBaseDir,
    path.basename(vm.firecrackerBinary),
    jailId(vm.id),
    "root",
  );
  return { root, apiSocket: path.join(root, JAILED_API_SOCKET) };
}

/**
 * The cgroup limits of a VM's VMM as the jailer's `--cgroup <file>=<value>` takes them: CPU time
 * of `vcpus` cores, its guest memory plus room for the VMM itself, and its task count.
 */
export function jailerCgroups(
  vm: Pick<JailedVm, "vcpus" | "memoryMb" | "pidsLimit">,
  cgroupVersion: 1 | 2 = 2,
): string[] {
  const quota = Math.max(1000, Math.round(vm.vcpus * CPU_PERIOD_US));
  // The VMM's own memory (device emulation, buffers) beyond the guest's.
  const memoryBytes = (Math.ceil(vm.memoryMb) + 64) * 2 ** 20;
  const pids = vm.pidsLimit ?? 64;
  return cgroupVersion === 2
    ? [`cpu.max=${quota} ${CPU_PERIOD_US}`, `memory.max=${memoryBytes}`, `pids.max=${pids}`]
    : [
        `cpu.cfs_period_us=${CPU_PERIOD_US}`,
        `cpu.cfs_quota_us=${quota}`,
        `memory.limit_in_bytes=${memoryBytes}`,
        `pids.max=${pids}`,
      ];
}

/**
 * The jailer's argument vector for `vm` (after the binary): identity, chroot, cgroup limits,
 * network namespace, then `--` and Firecracker's own arguments (its id; the API socket is the
 * jail's default). The jailer execs Firecracker in its own process, so its pid is the VMM's.
 */
export function jailerArgv(settings: JailerSettings, vm: JailedVm): string[] {
  if (!Number.isInteger(settings.uid) || settings.uid <= 0) {
    throw new Error("the jailer's uid must be a positive integer (never root)");
  }
  if (!Number.isInteger(settings.gid) || settings.gid <= 0) {
    throw new Error("the jailer's gid must be a positive integer (never root)");
  }
  const version = settings.cgroupVersion ?? 2;
  return [
    "--id",
    jailId(vm.id),
    "--exec-file",
    vm.firecrackerBinary,
    "--uid",
    String(settings.uid),
    "--gid",
    String(settings.gid),
    "--chroot-base-dir",
    settings.chrootBaseDir,
    "--cgroup-version",
    String(version),
    ...(settings.parentCgroup === undefined ? [] : ["--parent-cgroup", settings.parentCgroup]),
    ...jailerCgroups(vm, version).flatMap((c) => ["--cgroup", c]),
    ...(vm.netns === undefined ? [] : ["--netns", vm.netns]),
    "--",
    "--id",
    vm.id,
  ];
}
