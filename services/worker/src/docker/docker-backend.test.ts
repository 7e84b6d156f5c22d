import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import type Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildAgentBundle } from "../image/build-agent.js";
import { waitForAgent } from "../agent-client/wait-for-agent.js";
import { detectBackends } from "../backends/detect-backends.js";
import { buildBaseImage } from "../image/build-base-image.js";
import { AETHERIUM_VERSION } from "@aetherium/types";
import { SANDBOX_CAP_ADD } from "./container-spec.js";
import { DockerBackend } from "./docker-backend.js";
import { ImageMissingError, SandboxConflictError, SandboxNotFoundError } from "./docker-errors.js";
import type { SandboxSpec } from "../backends/sandbox-backend.js";
import { DEFAULT_BASE_IMAGE } from "@aetherium/core";

// Same inputs as build-base-image.test.ts, so the two files share one cached image.
const CACHE_DIR = path.resolve(import.meta.dirname, "../../../../.aetherium/cache/image");
const STUB_AGENT = path.resolve(import.meta.dirname, "../image/fixtures/stub-agent.cjs");
const TEST_TAG = `aetherium/base-test:${AETHERIUM_VERSION}`;

const probe = (await detectBackends()).find((b) => b.backend === "docker");
const dockerAvailable = probe?.available === true && process.getuid?.() === 0;
if (!dockerAvailable) {
  console.warn(
    `skipping Docker backend tests: ${probe?.detail ?? "no probe"} (needs root; run scripts/ensure-docker.sh)`,
  );
}

/** Every container of this file carries it, so cleanup finds them whatever failed. */
const TEST_LABEL = "aetherium.test-id";
const runId = randomBytes(4).toString("hex");
const workerId = `test-worker-${runId}`;
let seq = 0;
const nextId = () => `t-${runId}-${++seq}`;

function spec(overrides: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    sandboxId: nextId(),
    workerId,
    image: TEST_TAG,
    vcpus: 1,
    memoryMb: 256,
    pidsLimit: 128,
    egress: "deny-all",
    labels: { [TEST_LABEL]: runId },
    ...overrides,
  };
}

async function waitExit(container: Docker.Container, timeoutMs: number): Promise<number> {
  const result = (await Promise.race([
    container.wait(),
    sleep(timeoutMs).then(() => {
      throw new Error(`container did not exit within ${timeoutMs} ms`);
    }),
  ])) as { StatusCode: number };
  return result.StatusCode;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Host path of a container's cgroup file for one v1 controller (or the v2 unified one). */
async function cgroupFile(pid: number, controller: string, file: string): Promise<string> {
  const lines = (await readFile(`/proc/${pid}/cgroup`, "utf8")).split("\n");
  const v1 = lines.find((l) => l.split(":")[1]?.split(",").includes(controller));
  if (v1 !== undefined) {
    return path.join("/sys/fs/cgroup", controller, v1.slice(v1.lastIndexOf(":") + 1), file);
  }
  const v2 = lines.find((l) => l.startsWith("0::")) ?? "0::/";
  return path.join("/sys/fs/cgroup", v2.slice(3), file);
}

describe.skipIf(!dockerAvailable)("DockerBackend (real dockerd)", () => {
  let socketRoot: string;
  let backend: DockerBackend;

  beforeAll(async () => {
    await buildBaseImage({ agentFile: STUB_AGENT, cacheDir: CACHE_DIR, tag: TEST_TAG });
    socketRoot = await mkdtemp(path.join(tmpdir(), "aeth-sock-"));
    backend = new DockerBackend({ socketRoot, defaultImage: TEST_TAG });
  }, 600_000);

  afterEach(async () => {
    // Remove by label, not by what the test remembered: a test that threw half-way still cleans up.
    for (const s of await backend.listManaged({ label: `${TEST_LABEL}=${runId}` })) {
      await backend.remove(s.sandboxId);
    }
  });

  afterAll(async () => {
    if (socketRoot !== undefined) await rm(socketRoot, { recursive: true, force: true });
  });

  it("applies limits, hardening and labels, checked from inside without exec", async () => {
    const s = spec({
      vcpus: 0.5,
      memoryMb: 128,
      pidsLimit: 77,
      // Runs once and writes what it sees into the bind-mounted run dir, then exits.
      command: [
        "sh",
        "-c",
        [
          "cd /run/aetherium",
          "cat /sys/fs/cgroup/memory/memory.limit_in_bytes > mem 2>/dev/null || cat /sys/fs/cgroup/memory.max > mem",
          "cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes > memsw 2>/dev/null || cat /sys/fs/cgroup/memory.swap.max > memsw",
          "cat /sys/fs/cgroup/pids/pids.max > pids 2>/dev/null || cat /sys/fs/cgroup/pids.max > pids",
          "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us > cpu 2>/dev/null || cat /sys/fs/cgroup/cpu.max > cpu",
          "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status > status",
          "cat /proc/1/comm > init",
          "if [ -e /var/run/docker.sock ] || [ -e /run/docker.sock ]; then echo yes; else echo no; fi > docker-sock",
          "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' > ifaces",
        ].join("; "),
      ],
    });
    const created = await backend.create(s);
    expect(created.state).toBe("created");
    expect(created.labels).toMatchObject({
      "aetherium.sandbox-id": s.sandboxId,
      "aetherium.worker-id": workerId,
      "aetherium.managed": "true",
    });

    const hc = (await backend.docker.getContainer(created.backendId).inspect()).HostConfig;
    expect(hc.NanoCpus).toBe(500_000_000);
    expect(hc.Memory).toBe(128 * 1024 * 1024);
    expect(hc.MemorySwap).toBe(128 * 1024 * 1024);
    expect(hc.PidsLimit).toBe(77);
    expect(hc.CapDrop).toEqual(["ALL"]);
    expect(hc.CapAdd).toEqual([...SANDBOX_CAP_ADD]);
    expect(hc.SecurityOpt ?? []).toEqual([]);
    expect(hc.Init).toBe(true);
    expect(hc.NetworkMode).toBe("none");
    expect((hc.Binds ?? []).some((b) => b.includes("docker.sock"))).toBe(false);

    const runDir = backend.hostRunDir(s.sandboxId);
    expect((await stat(runDir)).mode & 0o777).toBe(0o700);

    const listed = await backend.listManaged({ workerId });
    expect(listed.map((x) => x.sandboxId)).toContain(s.sandboxId);

    await backend.start(s.sandboxId);
    expect(await waitExit(backend.docker.getContainer(created.backendId), 30_000)).toBe(0);
    const read = (name: string) => readFile(path.join(runDir, name), "utf8").then((t) => t.trim());
    expect(Number(await read("mem"))).toBe(128 * 1024 * 1024);
    expect(Number(await read("memsw"))).toBe(128 * 1024 * 1024);
    expect(await read("pids")).toBe("77");
    expect(await read("cpu")).toMatch(/^50000( 100000)?$/);
    const status = await read("status");
    // Setuid works (the sandbox user's `sudo`); seccomp's default filter is on (mode 2).
    expect(status).toMatch(/NoNewPrivs:\s+0/);
    expect(status).toMatch(/Seccomp:\s+2/);
    // CapEff is exactly the CapAdd set: CHOWN 0, DAC_OVERRIDE 1, FOWNER 3, FSETID 4, KILL 5,
    // SETGID 6, SETUID 7, NET_BIND_SERVICE 10.
    const capEff = BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(status)?.[1] ?? "0"}`);
    expect(capEff).toBe([0, 1, 3, 4, 5, 6, 7, 10].reduce((m, b) => m | (1n << BigInt(b)), 0n));
    expect(await read("init")).toMatch(/^(docker-init|tini)$/);
    expect(await read("docker-sock")).toBe("no");
    expect(await read("ifaces")).toBe("lo");
    const info = await backend.inspect(s.sandboxId);
    expect(info.state).toBe("exited");
    expect(info.exitCode).toBe(0);
  });

  it("runs the image's agent on the host-visible socket; stop and remove leave nothing", async () => {
    const s = spec({ egress: "allow-all" });
    const created = await backend.create(s);
    await backend.start(s.sandboxId);
    await backend.start(s.sandboxId); // idempotent
    const socket = backend.agentSocketPath(s.sandboxId);
    for (let i = 0; i < 100 && !(await exists(socket)); i++) await sleep(100);
    const greeting = await new Promise<string>((resolve, reject) => {
      let data = "";
      connect(socket)
        .on("data", (c) => (data += c.toString()))
        .on("end", () => resolve(data))
        .on("error", reject);
    });
    expect(greeting).toMatch(/^aetherium-stub-agent v\d+/);

    const stats = await backend.stats(s.sandboxId);
    expect(stats.memoryLimitBytes).toBe(256 * 1024 * 1024);
    expect(stats.pids).toBeGreaterThan(0);
    const pss = await backend.memoryPss(s.sandboxId);
    expect(pss).toBeGreaterThan(1024 * 1024);

    await backend.stop(s.sandboxId, { timeoutSec: 5 });
    await backend.stop(s.sandboxId); // idempotent
    const stopped = await backend.inspect(s.sandboxId);
    expect(stopped.state).toBe("exited");

    await backend.remove(s.sandboxId);
    await backend.remove(s.sandboxId); // idempotent
    await expect(backend.docker.getContainer(created.backendId).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
    expect(await exists(backend.hostRunDir(s.sandboxId))).toBe(false);
    expect((await backend.listManaged({ workerId })).map((x) => x.sandboxId)).not.toContain(
      s.sandboxId,
    );
    await expect(backend.inspect(s.sandboxId)).rejects.toBeInstanceOf(SandboxNotFoundError);
  });

  it("maps engine errors: missing image, name conflict, unknown sandbox", async () => {
    await expect(backend.create(spec({ image: "aetherium/missing:0" }))).rejects.toBeInstanceOf(
      ImageMissingError,
    );
    const s = spec({ command: ["sleep", "60"] });
    await backend.create(s);
    await expect(backend.create(s)).rejects.toBeInstanceOf(SandboxConflictError);
    // The conflict must not have removed the first sandbox's socket directory.
    expect(await exists(backend.hostRunDir(s.sandboxId))).toBe(true);
    await expect(backend.start("t-does-not-exist")).rejects.toBeInstanceOf(SandboxNotFoundError);
  });

  it("contains a fork bomb at the pids limit; the host keeps working", async () => {
    const s = spec({
      pidsLimit: 64,
      command: [
        "sh",
        "-c",
        // The bomb runs in a child; the main process then execs sleep, which needs no fork, so
        // the container stays up to be inspected while the bomb presses on the limit.
        `bash -c 'f(){ f | f & }; f'; exec sleep 30`,
      ],
    });
    const created = await backend.create(s);
    await backend.start(s.sandboxId);
    await sleep(3000);
    const state = (await backend.docker.getContainer(created.backendId).inspect()).State;
    expect(state.Running).toBe(true);
    const current = Number(
      await readFile(await cgroupFile(state.Pid, "pids", "pids.current"), "utf8"),
    );
    expect(current).toBeLessThanOrEqual(64);
    expect(current).toBeGreaterThan(32); // the bomb really ran into the limit
    const events = await readFile(await cgroupFile(state.Pid, "pids", "pids.events"), "utf8");
    expect(Number(/max (\d+)/.exec(events)?.[1] ?? 0)).toBeGreaterThan(0);
    // The host still forks fine.
    const { stdout } = await promisify(execFile)("sh", ["-c", "echo alive"]);
    expect(stdout.trim()).toBe("alive");
    await backend.remove(s.sandboxId);
  }, 60_000);

  it("OOM-kills a memory hog inside the sandbox only", async () => {
    const s = spec({ memoryMb: 64, command: ["sh", "-c", "head -c 1G /dev/zero | tail"] });
    const created = await backend.create(s);
    await backend.start(s.sandboxId);
    expect(await waitExit(backend.docker.getContainer(created.backendId), 60_000)).toBe(137);
    const info = await backend.inspect(s.sandboxId);
    expect(info.oomKilled).toBe(true);
    expect(info.exitCode).toBe(137);
  }, 90_000);

  it("isolates sandboxes: deny-all has no interface; allow-all sandboxes cannot reach each other", async () => {
    const server = ["node", "-e", "require('http').createServer((q,s)=>s.end('ok')).listen(8080)"];
    const a = spec({ egress: "allow-all", command: server });
    const aInfo = await backend.create(a);
    await backend.start(a.sandboxId);
    const ip = Object.values(
      (await backend.docker.getContainer(aInfo.backendId).inspect()).NetworkSettings.Networks,
    )[0]?.IPAddress;
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    // The host reaches it (proves it listens)…
    let body = "";
    for (let i = 0; i < 50 && body !== "ok"; i++) {
      body = await fetch(`http://${ip}:8080/`).then(
        (r) => r.text(),
        () => "",
      );
      if (body !== "ok") await sleep(100);
    }
    expect(body).toBe("ok");
    // …another allow-all sandbox on the same bridge does not (inter-container traffic is off)…
    const probeCmd = (target: string) => [
      "sh",
      "-c",
      `curl -s -m 2 http://${target}:8080/ > /run/aetherium/out; echo $? > /run/aetherium/rc`,
    ];
    const b = spec({ egress: "allow-all", command: probeCmd(ip ?? "") });
    const bInfo = await backend.create(b);
    await backend.start(b.sandboxId);
    await waitExit(backend.docker.getContainer(bInfo.backendId), 20_000);
    const rcB = await readFile(path.join(backend.hostRunDir(b.sandboxId), "rc"), "utf8");
    expect(rcB.trim()).not.toBe("0");
    // …and a deny-all sandbox has no route to anything.
    const c = spec({ egress: "deny-all", command: probeCmd(ip ?? "") });
    const cInfo = await backend.create(c);
    await backend.start(c.sandboxId);
    await waitExit(backend.docker.getContainer(cInfo.backendId), 20_000);
    const rcC = await readFile(path.join(backend.hostRunDir(c.sandboxId), "rc"), "utf8");
    expect(rcC.trim()).not.toBe("0");
    expect(
      Object.keys(
        (await backend.docker.getContainer(cInfo.backendId).inspect()).NetworkSettings.Networks,
      ),
    ).toEqual(["none"]);
  }, 60_000);
});

describe.skipIf(!dockerAvailable)("DockerBackend with the real agent image", () => {
  let socketRoot: string;
  let backend: DockerBackend;

  beforeAll(async () => {
    const agent = await buildAgentBundle();
    await buildBaseImage({ agentFile: agent.path, cacheDir: CACHE_DIR, tag: DEFAULT_BASE_IMAGE });
    socketRoot = await mkdtemp(path.join(tmpdir(), "aeth-sock-"));
    backend = new DockerBackend({ socketRoot, defaultImage: DEFAULT_BASE_IMAGE });
  }, 600_000);

  afterEach(async () => {
    for (const s of await backend.listManaged({ label: `${TEST_LABEL}=${runId}` })) {
      await backend.remove(s.sandboxId);
    }
  });

  afterAll(async () => {
    if (socketRoot !== undefined) await rm(socketRoot, { recursive: true, force: true });
  });

  it("holds a sandbox to its diskMb where the data root has quotas, and says when it cannot", async () => {
    const s = spec({ image: DEFAULT_BASE_IMAGE, diskMb: 512 });
    await backend.create(s);
    await backend.start(s.sandboxId);
    const root = (await backend.docker.info()) as { DockerRootDir: string; Driver: string };
    const { stdout: mount } = await promisify(execFile)("findmnt", [
      "-n",
      "-o",
      "FSTYPE,OPTIONS",
      "--target",
      root.DockerRootDir,
    ]);
    // overlay2 on XFS with project quotas, or the btrfs driver (qgroups): the two that can.
    const quotas =
      (root.Driver === "overlay2" && /^xfs .*(prjquota|pquota)/.test(mount.trim())) ||
      (root.Driver === "btrfs" && mount.trim().startsWith("btrfs"));
    // What the backend reports is what the storage does: never "enforced" on storage without quotas.
    expect(backend.diskLimits).toBe(quotas ? "enforced" : "unsupported");
    if (!quotas) {
      console.warn(`disk limits not testable here: ${root.DockerRootDir} is ${mount.trim()}`);
      return;
    }
    const client = await waitForAgent(backend.agentSocketPath(s.sandboxId), 30_000);
    try {
      const sh = async (script: string) => {
        const out: Buffer[] = [];
        const r = await client.exec(
          { command: "/bin/sh", args: ["-c", script] },
          { onStdout: (d) => void out.push(d), onStderr: (d) => void out.push(d) },
        );
        return { exitCode: r.exitCode, out: Buffer.concat(out).toString() };
      };
      if (root.Driver === "overlay2") {
        // An XFS project quota is also what df reports (a btrfs qgroup is not).
        const size = await sh("df -m / | awk 'NR == 2 { print $2 }'");
        expect(Number(size.out.trim())).toBeLessThanOrEqual(512);
      }
      const fill = await sh("dd if=/dev/zero of=/fill bs=1M count=700");
      expect(fill.exitCode).not.toBe(0);
      // ENOSPC from an overlay2 project quota, EDQUOT from a btrfs qgroup.
      expect(fill.out).toMatch(/No space left on device|Disk quota exceeded/);
      // Full is not broken: freeing space makes it writable again.
      expect(await sh("rm /fill && echo ok > /after && cat /after")).toEqual({
        exitCode: 0,
        out: "ok\n",
      });
    } finally {
      client.close();
    }
  }, 120_000);

  it("starts the agent from its startup snapshot and streams output through it", async () => {
    const s = spec({ image: DEFAULT_BASE_IMAGE });
    await backend.create(s);
    await backend.start(s.sandboxId);
    const client = await waitForAgent(backend.agentSocketPath(s.sandboxId), 30_000);
    try {
      const info = await client.info();
      expect(info.startup).toBe("snapshot");
      expect(info.reaper).toBe("init");
      const out: Buffer[] = [];
      const r = await client.exec(
        { command: "seq", args: ["1", "200000"] },
        { onStdout: (d) => void out.push(d) },
      );
      expect(r.exitCode).toBe(0);
      const expected = Array.from({ length: 200_000 }, (_, i) => `${i + 1}\n`).join("");
      expect(Buffer.concat(out).toString()).toBe(expected);
    } finally {
      client.close();
    }
  }, 60_000);
});
