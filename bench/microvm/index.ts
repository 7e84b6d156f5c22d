// bench/microvm: QEMU microVM sandboxes beside Docker sandboxes in one run, on two paths.
// 1. The user's path: a real distributed install (`aetherium gateway` + `aetherium worker`
//    processes on PostgreSQL and Redis, see bench/lib/bench-fleet.ts), one worker offering both
//    backends, driven through `AetheriumClient`: `POST /vms?wait=true` naming `backend: "qemu"`
//    or `"docker"` (same shape) → time to running, then the first command's result; then delete.
//    The headline ratio (QEMU/Docker, create → first result p50) comes from here.
// 2. In-process (labelled so): the same two backends through a `SandboxManager` with the real
//    agent and no gateway, worker process or queue: what the backends cost on their own.
//    BENCH_MICROVM_IN_PROCESS=0 skips it.
// Both report the host memory of a booted VM (PSS of its QEMU process). QEMU runs under KVM when
// /dev/kvm runs a guest and TCG otherwise (AETHERIUM_QEMU_ACCEL=kvm|tcg forces one). Needs root,
// qemu-system-x86 and a Docker engine; builds the Docker image and the VM image first when they
// are missing or stale.
import { execFile } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createLogger, InMemoryEventBus } from "@aetherium/common";
import {
  buildAgentBundle,
  buildBaseImage,
  buildVmImage,
  DockerBackend,
  QemuBackend,
  removeUnbridgedTapDrop,
  SANDBOX_LABELS,
  SandboxManager,
  VmNetwork,
  type VmImage,
} from "@aetherium/worker";
import { createRepositories, Migrator, openDatabase, DEFAULT_BASE_IMAGE } from "@aetherium/core";
import { AetheriumClient, type Sandbox } from "@aetherium/sdk";
import type { Benchmark } from "../lib/bench.js";
import { openBenchFleet } from "../lib/bench-fleet.js";
import { formatTable, p50p95, round, summarize, until, type Summary } from "../lib/stats.js";

const run = promisify(execFile);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const CACHE_DIR = path.join(repo, ".aetherium", "cache", "image");
/** Rounds per backend and path: 1 to 20, 5 by default (a TCG boot is seconds on a 2-core machine). */
const ROUNDS = Math.max(
  1,
  Math.min(20, Math.floor(Number(process.env.BENCH_MICROVM_ROUNDS ?? 5)) || 5),
);
const IN_PROCESS = process.env.BENCH_MICROVM_IN_PROCESS !== "0";
const ACCEL = ((a) => (a === "kvm" || a === "tcg" ? a : "auto"))(process.env.AETHERIUM_QEMU_ACCEL);
const VCPUS = 1;
const MEMORY_MB = 512;
/** One create → first result → delete, either backend: past it the round fails. */
const ONE_MS = 240_000;
/** All timed rounds of one path together. */
const ROUNDS_MS = 20 * 60_000;

async function pss(pid: number): Promise<number> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, "utf8").catch(() => "");
  return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) * 1024;
}

const mean = (xs: readonly number[]) =>
  xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN;
const mib = (bytes: readonly number[]) => round(mean(bytes) / 2 ** 20, 1);

interface Figures {
  readonly ready: Summary;
  readonly first: Summary;
  /** PSS of each measured VM's QEMU process after its first command, bytes (QEMU only). */
  readonly memory: readonly number[];
}

/** In-process: both backends through a `SandboxManager`, no gateway or worker process. */
async function inProcess(image: VmImage): Promise<{ qemu: Figures; docker: Figures }> {
  const logger = createLogger({ service: "bench", level: "warn", format: "json" });
  const stateDir = await mkdtemp(path.join(os.tmpdir(), "aeth-bench-qemu-"));
  const handle = await openDatabase({ pglite: "memory://" });
  const workerId = `bench-${randomBytes(4).toString("hex")}`;
  const qemu = new QemuBackend({ stateDir, image, accel: ACCEL });
  const docker = new DockerBackend();
  try {
    await new Migrator(handle.db).up();
    const repos = createRepositories(handle.db);
    await repos.workers.register({
      id: workerId,
      hostname: "bench",
      address: "http://127.0.0.1:1",
    });
    const measure = async (backend: QemuBackend | DockerBackend): Promise<Figures> => {
      const mgr = new SandboxManager({
        backend,
        repos,
        bus: new InMemoryEventBus(),
        workerId,
        logger,
        agentReadyTimeoutMs: 180_000,
      });
      const ready: number[] = [];
      const first: number[] = [];
      const memory: number[] = [];
      try {
        for (let i = 0, more = until(ROUNDS_MS); i < ROUNDS && more(); i++) {
          const row = await repos.vms.create({
            name: `bench-${backend.kind}-${i}`,
            backend: backend.kind,
            image: backend.kind === "qemu" ? "aetherium/vm-base" : DEFAULT_BASE_IMAGE,
            vcpus: VCPUS,
            memoryMb: MEMORY_MB,
          });
          try {
            const t0 = performance.now();
            await mgr.create(row.id);
            ready.push(performance.now() - t0);
            const r = await mgr.exec(row.id, { command: "true" });
            first.push(performance.now() - t0);
            if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}: ${r.error}`);
            if (backend instanceof QemuBackend) {
              const pid = Number(
                await readFile(path.join(backend.runDir(row.id), "qemu.pid"), "utf8"),
              );
              memory.push(await pss(pid));
            }
          } finally {
            await mgr.delete(row.id);
          }
        }
      } finally {
        await mgr.close();
      }
      return { ready: summarize(ready), first: summarize(first), memory };
    };
    const d = await measure(docker);
    const q = await measure(qemu);
    return { qemu: q, docker: d };
  } finally {
    for (const s of await qemu.list().catch(() => [])) {
      await qemu.remove(s.sandboxId).catch(() => undefined);
    }
    await docker.close?.();
    await handle.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** The QEMU process of VM `id`: its run directory's pid file, else `pgrep -f <id>`. */
async function qemuPid(home: string, id: string): Promise<number | undefined> {
  const text = await readFile(path.join(home, "qemu", id, "qemu.pid"), "utf8").catch(() => "");
  const pid = Number(text.trim());
  if (Number.isInteger(pid) && pid > 0) return pid;
  const found = await run("pgrep", ["-f", `qemu-system.*${id}`]).catch(() => ({ stdout: "" }));
  const first = Number(found.stdout.split("\n")[0]);
  return Number.isInteger(first) && first > 0 ? first : undefined;
}

/**
 * The user's path: one worker process offering Docker and QEMU behind a gateway process, both
 * driven through the SDK. The worker gets a home of its own (its image cache the shared one, so
 * it finds the VM image built above) and a VM bridge, subnet and egress-proxy port of its own, so
 * it shares nothing with other installs on the host; all of it is removed at the end.
 */
async function userPath(
  image: VmImage,
  notes: string[],
): Promise<{ qemu: Figures; docker: Figures; accel: string }> {
  const fleet = await openBenchFleet("microvm");
  const suffix = randomBytes(3).toString("hex");
  const workerId = `mvm-${suffix}`;
  const home = await mkdtemp(path.join(os.tmpdir(), "aeth-bench-mvm-"));
  await mkdir(path.join(home, "cache"));
  await symlink(CACHE_DIR, path.join(home, "cache", "image"));
  const bridge = `aebv${suffix}`;
  const subnet = `10.219.${randomInt(0, 250)}.0/24`;
  const proxyPort = randomInt(40_000, 50_000);
  const handle = await openDatabase({ url: fleet.databaseUrl });
  const repos = createRepositories(handle.db);
  let client: AetheriumClient | undefined;
  let stopWorker: (() => Promise<void>) | undefined;
  try {
    const worker = await fleet.startWorker(workerId, {
      AETHERIUM_HOME: home,
      AETHERIUM_SANDBOX__VM_NETWORK__BRIDGE: bridge,
      AETHERIUM_SANDBOX__VM_NETWORK__SUBNET: subnet,
      AETHERIUM_SANDBOX__EGRESS_PROXY_PORT: String(proxyPort),
      ...(ACCEL === "auto" ? {} : { AETHERIUM_QEMU_ACCEL: ACCEL }),
    });
    stopWorker = () => worker.stop();
    const gateway = await fleet.startGateway();
    client = new AetheriumClient({ url: gateway.url, apiKey: fleet.apiKey });
    const api = client;
    // The worker registers its backends shortly after it says it runs: wait for both.
    for (const more = until(60_000); ;) {
      const offers = (await api.backends.list()).backends;
      const offered = (b: string) => offers.some((o) => o.backend === b && o.offered);
      if (offered("qemu") && offered("docker")) break;
      if (!more()) {
        throw new Error(
          `the bench worker does not offer docker and qemu: ${JSON.stringify(offers)}` +
            ` (the worker's log says why: QEMU needs qemu-system-x86_64 and the VM image)`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const accel = (await new QemuBackend({
      stateDir: home,
      image,
      accel: ACCEL,
    }).accel()) as string;

    let n = 0;
    const one = async (backend: "qemu" | "docker") => {
      const signal = AbortSignal.timeout(ONE_MS);
      let vm: Sandbox | undefined;
      try {
        const t0 = performance.now();
        vm = await api.vms.create(
          { name: `bench-${suffix}-${backend}-${n++}`, backend, vcpus: VCPUS, memoryMb: MEMORY_MB },
          { wait: true, signal },
        );
        const ready = performance.now() - t0;
        const marker = `ready-${randomBytes(4).toString("hex")}`;
        const r = await vm.exec(`echo ${marker}`, { signal });
        const first = performance.now() - t0;
        if (r.exitCode !== 0 || r.stdout.trim() !== marker) {
          throw new Error(
            `echo on ${backend}: exit ${r.exitCode}, stdout ${JSON.stringify(r.stdout)}`,
          );
        }
        let memory: number | undefined;
        if (backend === "qemu") {
          const pid = await qemuPid(home, vm.id);
          if (pid === undefined) notes.push(`no QEMU process found for ${vm.id}`);
          else memory = await pss(pid);
        }
        return { ready, first, memory };
      } finally {
        // Not timed, for either backend.
        await vm
          ?.delete({ wait: true, signal: AbortSignal.timeout(120_000) })
          .catch((err: unknown) => notes.push(`delete ${vm?.id}: ${String(err)}`));
      }
    };

    // One untimed round each first: page cache, the bridge, connection pools, the JIT.
    await one("docker");
    await one("qemu");
    const ready = { qemu: [] as number[], docker: [] as number[] };
    const first = { qemu: [] as number[], docker: [] as number[] };
    const memory: number[] = [];
    for (let i = 0, more = until(ROUNDS_MS); i < ROUNDS && more(); i++) {
      // Alternate which goes first, so drift on a noisy host hits both alike.
      const order = i % 2 === 0 ? (["qemu", "docker"] as const) : (["docker", "qemu"] as const);
      for (const b of order) {
        const r = await one(b);
        ready[b].push(r.ready);
        first[b].push(r.first);
        if (r.memory !== undefined) memory.push(r.memory);
      }
    }
    return {
      qemu: { ready: summarize(ready.qemu), first: summarize(first.qemu), memory },
      docker: { ready: summarize(ready.docker), first: summarize(first.docker), memory: [] },
      accel,
    };
  } finally {
    // Whatever a failed round left: through the API while the install runs, then on the host.
    if (client !== undefined) {
      for await (const vm of client.vms.iterate({ workerId })) {
        if (vm.status === "deleted") continue;
        await (
          await client.vms.get(vm.id)
        )
          .delete({ wait: true, signal: AbortSignal.timeout(120_000) })
          .catch((err: unknown) => console.error(`could not delete ${vm.id}:`, err));
      }
    }
    await stopWorker?.().catch(() => undefined);
    const qemu = new QemuBackend({ stateDir: path.join(home, "qemu"), image, accel: ACCEL });
    for (const s of await qemu.list().catch(() => [])) {
      await qemu.remove(s.sandboxId).catch((e: unknown) => console.error(`VM ${s.sandboxId}:`, e));
    }
    const docker = new DockerBackend();
    const left = await docker.docker
      .listContainers({ all: true, filters: { label: [`${SANDBOX_LABELS.workerId}=${workerId}`] } })
      .catch(() => []);
    for (const c of left) {
      const id = c.Labels?.[SANDBOX_LABELS.sandboxId];
      await (
        id ? docker.remove(id) : docker.docker.getContainer(c.Id).remove({ force: true })
      ).catch((err: unknown) => console.error(`could not remove container ${c.Id}:`, err));
    }
    await docker.close?.();
    // The worker's VM network: its TAPs (leases released), then the bridge and its rules.
    const network = new VmNetwork({
      bridge,
      subnet,
      leases: repos.vmNetworkLeases,
      workerId,
      proxyPort,
    });
    await network.ready().catch(() => undefined);
    await network.reconcile([]).catch(() => undefined);
    await network.remove().catch((e: unknown) => console.error(`bridge ${bridge}:`, e));
    // Shared by every VM bridge: removed only when no other VM TAP is on the host.
    const links = await run("ip", ["-o", "link", "show"]).catch(() => ({ stdout: "aev" }));
    if (!/: aev[0-9a-f]{12}[@:]/.test(links.stdout)) await removeUnbridgedTapDrop().catch(() => {});
    await handle.close();
    await fleet.close();
    await rm(home, { recursive: true, force: true });
  }
}

const bench: Benchmark = {
  name: "microvm",
  description:
    "QEMU microVM beside Docker through the SDK against real gateway + worker processes (create?wait → running, → first `echo` result; ratio QEMU/Docker), plus in-process rows; QEMU PSS",
  async run() {
    const agent = await buildAgentBundle();
    await buildBaseImage({ agentFile: agent.path, cacheDir: CACHE_DIR, tag: DEFAULT_BASE_IMAGE });
    const image = await buildVmImage({ agentFile: agent.path, cacheDir: CACHE_DIR });
    const notes: string[] = [];
    const user = await userPath(image, notes);
    const local = IN_PROCESS ? await inProcess(image) : undefined;
    const ratio = (q: Summary, d: Summary) => `${round(q.p50 / d.p50, 2)}×`;
    const rows: string[][] = [
      ["p50 (p95), ms", `qemu microvm (${user.accel})`, "docker", "qemu/docker p50"],
      [
        "SDK: create?wait → running",
        p50p95(user.qemu.ready, 0),
        p50p95(user.docker.ready, 0),
        ratio(user.qemu.ready, user.docker.ready),
      ],
      [
        "SDK: create?wait → first `echo` result",
        p50p95(user.qemu.first, 0),
        p50p95(user.docker.first, 0),
        ratio(user.qemu.first, user.docker.first),
      ],
      ["SDK: QEMU PSS after first command (MiB, mean)", String(mib(user.qemu.memory)), "-", ""],
    ];
    if (local) {
      rows.push(
        [
          "in-process SandboxManager: create → agent ready",
          p50p95(local.qemu.ready, 0),
          p50p95(local.docker.ready, 0),
          ratio(local.qemu.ready, local.docker.ready),
        ],
        [
          "in-process SandboxManager: create → first result",
          p50p95(local.qemu.first, 0),
          p50p95(local.docker.first, 0),
          ratio(local.qemu.first, local.docker.first),
        ],
        ["in-process: QEMU PSS after boot (MiB, mean)", String(mib(local.qemu.memory)), "-", ""],
      );
    }
    console.log(formatTable(rows));
    for (const note of new Set(notes)) console.log(`note: ${note}`);
    const figures = (f: Figures) => ({
      readyP50Ms: round(f.ready.p50, 0),
      readyP95Ms: round(f.ready.p95, 0),
      firstP50Ms: round(f.first.p50, 0),
      firstP95Ms: round(f.first.p95, 0),
      n: f.first.n,
    });
    return {
      bench: "microvm",
      accel: user.accel,
      rounds: ROUNDS,
      loadavg: os.loadavg().map((l) => round(l, 2)),
      ratio: round(user.qemu.first.p50 / user.docker.first.p50, 2),
      readyRatio: round(user.qemu.ready.p50 / user.docker.ready.p50, 2),
      sdk: {
        qemu: { ...figures(user.qemu), pssMiB: mib(user.qemu.memory) },
        docker: figures(user.docker),
      },
      ...(local && {
        inProcess: {
          qemu: { ...figures(local.qemu), pssMiB: mib(local.qemu.memory) },
          docker: figures(local.docker),
          ratio: round(local.qemu.first.p50 / local.docker.first.p50, 2),
        },
      }),
    };
  },
};

export default bench;
