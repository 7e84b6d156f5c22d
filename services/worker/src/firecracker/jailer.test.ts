import { describe, expect, it } from "vitest";
import { jailerArgv, jailerCgroups, jailPaths, type JailerSettings } from "./jailer.js";

// The jailer's command line as its documentation (docs/jailer.md of Firecracker) defines it:
// `jailer --id <id> --exec-file <exec_file> --uid <uid> --gid <gid> [--parent-cgroup …]
// [--cgroup-version …] [--cgroup <file>=<value>]… [--chroot-base-dir …] [--netns …] -- <args>`.
const settings: JailerSettings = {
  binary: "/usr/bin/jailer",
  uid: 64_000,
  gid: 64_000,
  chrootBaseDir: "/srv/jailer",
};
const vm = {
  id: "0b7c9a2e-5f7d-4c3e-9a51-2d8f6e1b4a90",
  firecrackerBinary: "/usr/bin/firecracker",
  vcpus: 2,
  memoryMb: 512,
  pidsLimit: 128,
};

describe("jailer invocation", () => {
  it("names the VM, the binary, an unprivileged uid/gid, the chroot base and the VM's limits", () => {
    expect(jailerArgv(settings, vm)).toEqual([
      "--id",
      vm.id,
      "--exec-file",
      "/usr/bin/firecracker",
      "--uid",
      "64000",
      "--gid",
      "64000",
      "--chroot-base-dir",
      "/srv/jailer",
      "--cgroup-version",
      "2",
      "--cgroup",
      "cpu.max=200000 100000",
      "--cgroup",
      `memory.max=${(512 + 64) * 2 ** 20}`,
      "--cgroup",
      "pids.max=128",
      "--",
      "--id",
      vm.id,
    ]);
  });

  it("adds a parent cgroup and a network namespace when given; cgroup v1 files for v1 hosts", () => {
    const argv = jailerArgv(
      { ...settings, cgroupVersion: 1, parentCgroup: "aetherium" },
      { ...vm, vcpus: 0.5, netns: "/var/run/netns/aevm-1" },
    );
    expect(argv.slice(10, 14)).toEqual(["--cgroup-version", "1", "--parent-cgroup", "aetherium"]);
    expect(argv.filter((_, i) => argv[i - 1] === "--cgroup")).toEqual([
      "cpu.cfs_period_us=100000",
      "cpu.cfs_quota_us=50000",
      `memory.limit_in_bytes=${(512 + 64) * 2 ** 20}`,
      "pids.max=128",
    ]);
    expect(argv.slice(argv.indexOf("--netns"), argv.indexOf("--netns") + 2)).toEqual([
      "--netns",
      "/var/run/netns/aevm-1",
    ]);
    expect(argv.slice(-3)).toEqual(["--", "--id", vm.id]);
  });

  it("puts the chroot and API socket where the jailer makes them", () => {
    expect(jailPaths(settings, vm)).toEqual({
      root: `/srv/jailer/firecracker/${vm.id}/root`,
      apiSocket: `/srv/jailer/firecracker/${vm.id}/root/run/firecracker.socket`,
    });
  });

  it("refuses ids the jailer refuses and a root uid or gid", () => {
    for (const id of ["has_underscore", "dots.in.it", "", "x".repeat(65)]) {
      expect(() => jailerArgv(settings, { ...vm, id })).toThrow(/no jailer id/);
    }
    expect(() => jailerArgv({ ...settings, uid: 0 }, vm)).toThrow(/uid/);
    expect(() => jailerArgv({ ...settings, gid: 0 }, vm)).toThrow(/gid/);
  });

  it("gives a VM without a process limit a small one: the VMM's own threads", () => {
    expect(jailerCgroups({ vcpus: 1, memoryMb: 256 })).toContain("pids.max=64");
  });
});
