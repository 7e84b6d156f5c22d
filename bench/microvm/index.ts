// bench/microvm: QEMU microVM sandboxes beside Docker sandboxes in one run, both through a
// SandboxManager with the real agent: create → agent ready, create → first command result, and
// the host memory of an idle VM (PSS of its QEMU process). QEMU runs under KVM when /dev/kvm
// runs a guest and TCG otherwise (AETHERIUM_QEMU_ACCEL=kvm|tcg forces one). Needs root, qemu-system-x86 and a
// Docker engine; builds the Docker image and the VM image first when they are missing or stale.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger, InMemoryEventBus } from "@aetherium/common";
import {
  buildAgentBundle,
  buildBaseImage,
  buildVmImage,
  DockerBackend,
  QemuBackend,
  SandboxManager,
} from "@aetherium/worker";
import { createRepositories, Migrator, openDatabase, DEFAULT_BASE_IMAGE } from "@aetherium/core";
import type { Benchmark } from "../lib/bench.js";
import { formatTable, p50p95, round, summarize } from "../lib/stats.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const CACHE_DIR = path.join(repo, ".aetherium", "cache", "image");
/** Rounds per backend: 1 to 20, 5 by default (a TCG boot is seconds on a 2-core machine). */
const ROUNDS = Math.max(1, Math.min(20, Number(process.env.BENCH_MICROVM_ROUNDS ?? 5) || 5));
const ACCEL = ((a) => (a === "kvm" || a === "tcg" ? a : "auto"))(process.env.AETHERIUM_QEMU_ACCEL);
const MEMORY_MB = 512;

async function pss(pid: number): Promise<number> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, "utf8").catch(() => "");
  return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) * 1024;
}

const bench: Benchmark = {
  name: "microvm",
  description: "create → agent ready and → first result, QEMU microVM beside Docker; VMM memory",
  async run() {
    const logger = createLogger({ service: "bench", level: "warn", format: "json" });
    const agent = await buildAgentBundle();
    await buildBaseImage({ agentFile: agent.path, cacheDir: CACHE_DIR, tag: DEFAULT_BASE_IMAGE });
    const image = await buildVmImage({ agentFile: agent.path, cacheDir: CACHE_DIR });
    const stateDir = await mkdtemp(path.join(os.tmpdir(), "aeth-bench-qemu-"));
    const handle = await openDatabase({ pglite: "memory://" });
    const workerId = `bench-${randomBytes(4).toString("hex")}`;
    const qemu = new QemuBackend({ stateDir, image, accel: ACCEL });
    const docker = new DockerBackend();
    const accel = await qemu.accel();
    try {
      await new Migrator(handle.db).up();
      const repos = createRepositories(handle.db);
      await repos.workers.register({
        id: workerId,
        hostname: "bench",
        address: "http://127.0.0.1:1",
      });
      const measure = async (backend: QemuBackend | DockerBackend) => {
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
          for (let i = 0; i < ROUNDS; i++) {
            const row = await repos.vms.create({
              name: `bench-${backend.kind}-${i}`,
              backend: backend.kind,
              image: backend.kind === "qemu" ? "aetherium/vm-base" : DEFAULT_BASE_IMAGE,
              vcpus: 1,
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
      const idleMiB = q.memory.length
        ? q.memory.reduce((a, b) => a + b, 0) / q.memory.length / 2 ** 20
        : Number.NaN;
      console.log(
        formatTable([
          ["figure (ms, p50 (p95))", `qemu microvm (${accel})`, "docker"],
          ["create → agent ready", p50p95(q.ready), p50p95(d.ready)],
          ["create → first result", p50p95(q.first), p50p95(d.first)],
          ["QEMU PSS after boot (MiB)", String(round(idleMiB, 1)), "-"],
        ]),
      );
      return {
        bench: "microvm",
        accel,
        rounds: ROUNDS,
        qemu: { ready: q.ready, first: q.first, pssMiB: round(idleMiB, 1) },
        docker: { ready: d.ready, first: d.first },
        ratio: round(q.ready.p50 / d.ready.p50, 2),
      };
    } finally {
      await docker.close?.();
      await handle.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  },
};

export default bench;
