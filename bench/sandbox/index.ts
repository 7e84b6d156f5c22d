// bench/sandbox: Aetherium sandboxes on Docker against the raw Docker Engine API, in one run.
// Needs root and a Docker engine (scripts/ensure-docker.sh); builds the base image if missing.
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger, InMemoryEventBus } from "@aetherium/common";
import {
  buildAgentBundle,
  buildBaseImage,
  createRepositories,
  DEFAULT_SANDBOX_SHAPE,
  detectBackends,
  DockerBackend,
  InProcessJobQueue,
  Migrator,
  openDatabase,
  SandboxManager,
  TaskService,
  VmService,
} from "@aetherium/core";
import type Docker from "dockerode";
import type { Benchmark } from "../lib/bench.js";
import { formatTable, round, sample, summarize } from "../lib/stats.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const IMAGE = DEFAULT_SANDBOX_SHAPE.image;
const IDLE = Math.min(50, Number(process.env.BENCH_SANDBOX_IDLE ?? 10));
const MiB = 1024 * 1024;

/** Raw Engine API: `docker exec <container> true`, waiting for it to end. */
async function dockerExec(docker: Docker, containerId: string, cmd: string[]): Promise<number> {
  const exec = await docker
    .getContainer(containerId)
    .exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  let bytes = 0;
  await new Promise<void>((resolve, reject) => {
    stream.on("data", (c: Buffer) => (bytes += c.length));
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  return bytes;
}

/** PSS (bytes) of the containerd shim serving one container. */
async function shimPss(containerId: string): Promise<number> {
  let total = 0;
  for (const pid of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (!cmd.includes("containerd-shim") || !cmd.includes(containerId)) continue;
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, "utf8").catch(() => "");
    total += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) * 1024;
  }
  return total;
}

const bench: Benchmark = {
  name: "sandbox",
  description:
    "sandboxes on Docker vs the raw Engine API: TTI (≤ 1.15×), exec round trip (≥ 15× faster), 100 MiB stream (≥ 200 MiB/s), warm claim (p50 ≤ 50 ms), idle memory (≤ 32 MiB)",
  async run() {
    const probe = (await detectBackends()).find((b) => b.backend === "docker");
    if (!probe?.available || process.getuid?.() !== 0) {
      throw new Error(
        `needs root and a Docker engine: run scripts/ensure-docker.sh as root (${probe?.detail})`,
      );
    }
    const agent = await buildAgentBundle();
    await buildBaseImage({
      agentFile: agent.path,
      cacheDir: path.join(repo, ".aetherium/cache/image"),
      tag: IMAGE,
    });

    const workerId = `bench-${randomBytes(4).toString("hex")}`;
    const logger = createLogger({ service: "bench", level: "silent", format: "json" });
    const handle = await openDatabase({ pglite: "memory://" });
    await new Migrator(handle.db).up();
    const repos = createRepositories(handle.db);
    await repos.workers.register({
      id: workerId,
      hostname: "bench",
      address: "http://127.0.0.1:1",
    });
    const bus = new InMemoryEventBus();
    const backend = new DockerBackend();
    const docker = backend.docker;
    const manager = new SandboxManager({ backend, repos, bus, workerId, logger });
    const queue = new InProcessJobQueue({ logger });
    const vms = new VmService(repos, new TaskService(repos, queue, bus), bus, {
      backend: "docker",
      ...DEFAULT_SANDBOX_SHAPE,
    });
    const rawIds: string[] = [];
    const newVm = () =>
      repos.vms.create({
        name: `b-${randomBytes(4).toString("hex")}`,
        backend: "docker",
        image: IMAGE,
        vcpus: 1,
        memoryMb: 512,
        workerId,
      });

    try {
      // 1. Time to interactive: create → first command result.
      const ours: number[] = [];
      const raw: number[] = [];
      for (let i = 0; i < 8; i++) {
        const row = await newVm();
        let t0 = performance.now();
        await manager.create(row.id);
        await manager.exec(row.id, { command: "true" });
        ours.push(performance.now() - t0);
        await manager.delete(row.id);

        t0 = performance.now();
        const c = await docker.createContainer({
          Image: IMAGE,
          Entrypoint: ["sleep", "infinity"],
          Labels: { "aetherium.bench": workerId },
          HostConfig: {
            NanoCpus: 1e9,
            Memory: 512 * MiB,
            MemorySwap: 512 * MiB,
            PidsLimit: 1024,
            Init: true,
            NetworkMode: "none",
          },
        });
        rawIds.push(c.id);
        await c.start();
        await dockerExec(docker, c.id, ["true"]);
        raw.push(performance.now() - t0);
        await c.remove({ force: true });
      }
      const tti = summarize(ours);
      const rawTti = summarize(raw);

      // 2. Exec round trip in a running sandbox.
      const row = await newVm();
      await manager.create(row.id);
      const client = await manager.client(row.id);
      const execs = summarize(
        await sample(() => client.exec({ command: "true" }), {
          maxIterations: 200,
          maxMs: 20_000,
          warmup: 10,
        }),
      );
      const target = await docker.createContainer({
        Image: IMAGE,
        Entrypoint: ["sleep", "infinity"],
        Labels: { "aetherium.bench": workerId },
        HostConfig: { Init: true, NetworkMode: "none" },
      });
      rawIds.push(target.id);
      await target.start();
      const dockerExecs = summarize(
        await sample(() => dockerExec(docker, target.id, ["true"]), {
          maxIterations: 40,
          maxMs: 20_000,
          warmup: 3,
        }),
      );

      // 3. Streaming 100 MiB of stdout.
      const streams: number[] = [];
      for (let i = 0; i < 3; i++) {
        let bytes = 0;
        const t0 = performance.now();
        await client.exec(
          { shell: "head -c 104857600 /dev/zero" },
          { onStdout: (b) => void (bytes += b.length) },
        );
        streams.push(bytes / MiB / ((performance.now() - t0) / 1000));
      }
      let dockerBytes = 0;
      const d0 = performance.now();
      dockerBytes = await dockerExec(docker, target.id, ["head", "-c", "104857600", "/dev/zero"]);
      const dockerStreamMiBps = dockerBytes / MiB / ((performance.now() - d0) / 1000);
      await manager.delete(row.id);

      // 4. Warm pool: claim → first command result.
      const claims: number[] = [];
      for (let i = 0; i < 5; i++) {
        await manager.refillPool(1, DEFAULT_SANDBOX_SHAPE);
        const t0 = performance.now();
        const { vm } = await vms.create({});
        await manager.exec(vm.id, { command: "true" });
        claims.push(performance.now() - t0);
        await manager.delete(vm.id);
      }
      const warm = summarize(claims);

      // 5. What an idle sandbox costs the host: its processes plus its shim, PSS.
      const idle: string[] = [];
      for (let i = 0; i < IDLE; i++) {
        const r = await newVm();
        await manager.create(r.id);
        idle.push(r.id);
      }
      await new Promise((r) => setTimeout(r, 5000));
      let pss = 0;
      for (const id of idle) {
        pss += (await backend.memoryPss(id)) ?? 0;
        pss += await shimPss((await backend.inspect(id)).backendId);
      }
      const idleMemMiB = pss / idle.length / MiB;
      for (const id of idle) await manager.delete(id);

      const ttiRatio = tti.p50 / rawTti.p50;
      const execSpeedup = dockerExecs.p50 / execs.p50;
      const streamMiBps = summarize(streams).p50;
      console.log(
        formatTable([
          ["", "Aetherium", "raw Docker Engine API", "ratio / goal"],
          [
            "TTI p50 (p95) ms",
            `${round(tti.p50, 0)} (${round(tti.p95, 0)})`,
            `${round(rawTti.p50, 0)} (${round(rawTti.p95, 0)})`,
            `${round(ttiRatio, 2)}× (goal ≤ 1.15×)`,
          ],
          [
            "exec `true` p50 (p95) ms",
            `${round(execs.p50, 2)} (${round(execs.p95, 2)})`,
            `${round(dockerExecs.p50, 1)} (${round(dockerExecs.p95, 1)})`,
            `${round(execSpeedup, 1)}× faster (goal ≥ 15×)`,
          ],
          [
            "stream 100 MiB, MiB/s",
            String(round(streamMiBps, 0)),
            String(round(dockerStreamMiBps, 0)),
            "goal ≥ 200",
          ],
          ["warm claim → result p50 ms", String(round(warm.p50, 1)), "—", "goal ≤ 50"],
          [`idle sandbox PSS (${IDLE}), MiB`, String(round(idleMemMiB, 1)), "—", "goal ≤ 32"],
        ]),
      );
      return {
        bench: "sandbox",
        ratio: round(execSpeedup, 2),
        ttiRatio: round(ttiRatio, 3),
        ttiP50Ms: round(tti.p50, 1),
        rawTtiP50Ms: round(rawTti.p50, 1),
        execP50Ms: round(execs.p50, 3),
        execP95Ms: round(execs.p95, 3),
        dockerExecP50Ms: round(dockerExecs.p50, 2),
        execSpeedup: round(execSpeedup, 2),
        warmClaimP50Ms: round(warm.p50, 2),
        streamMiBps: round(streamMiBps, 1),
        dockerStreamMiBps: round(dockerStreamMiBps, 1),
        idleMemMiB: round(idleMemMiB, 2),
        idleSandboxes: IDLE,
      };
    } finally {
      await manager.close();
      for (const s of await backend.list({ workerId }))
        await backend.remove(s.sandboxId).catch(() => undefined);
      for (const id of rawIds)
        await docker
          .getContainer(id)
          .remove({ force: true })
          .catch(() => undefined);
      await queue.close();
      await handle.close();
    }
  },
};
export default bench;
