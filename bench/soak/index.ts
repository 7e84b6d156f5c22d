// bench/soak: create → exec → delete cycles through the SDK against a real `aetherium gateway`
// and `aetherium worker` (distributed mode: PostgreSQL + Redis), interleaved with the same cycle
// on plain containers through the Engine API. It reports what a long-running install cares about:
// cycle latency against the baseline, failures, and what each process and the host hold before
// and after (RSS, open descriptors, containers, networks, addresses, firewall rules, run dirs).
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { detectBackends, DockerBackend, SANDBOX_LABELS, SANDBOX_NETWORK } from "@aetherium/worker";
import { AetheriumClient } from "@aetherium/sdk";
import type { Benchmark } from "../lib/bench.js";
import { openBenchFleet } from "../lib/bench-fleet.js";
import { rawCreate, rawExec, type Docker } from "../lib/raw-docker.js";
import { formatTable, round, summarize } from "../lib/stats.js";
import { DEFAULT_BASE_IMAGE } from "@aetherium/core";

const run = promisify(execFile);
const CYCLES = Math.max(1, Math.min(1000, Number(process.env.BENCH_SOAK_CYCLES ?? 100) || 100));
const MAX_MS = Math.max(10, Number(process.env.BENCH_SOAK_SECONDS ?? 240) || 240) * 1000;
const WARMUP = 5;

/** What one process holds. */
interface ProcessFigures {
  rssMb: number;
  fds: number;
}

/** What the host holds. */
interface HostFigures {
  containers: number;
  networks: number;
  addresses: number;
  firewallRules: number;
  runDirs: number;
  openFiles: number;
}

async function processFigures(pid: number): Promise<ProcessFigures> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN);
  const fds = (await readdir(`/proc/${pid}/fd`)).length;
  return { rssMb: round(rssKb / 1024, 1), fds };
}

async function countLines(cmd: string, args: string[]): Promise<number> {
  const { stdout } = await run(cmd, args).catch(() => ({ stdout: "" }));
  return stdout.split("\n").filter((l) => l.trim() !== "").length;
}

async function hostFigures(docker: Docker): Promise<HostFigures> {
  const [containers, networks, addresses, firewallRules, runDirs, fileNr] = await Promise.all([
    docker.listContainers({ all: true }).then((l) => l.length),
    docker.listNetworks().then((l) => l.length),
    countLines("ip", ["-o", "addr"]),
    countLines("iptables-save", []),
    readdir("/run/aetherium/sandboxes").then(
      (l) => l.length,
      () => 0,
    ),
    readFile("/proc/sys/fs/file-nr", "utf8"),
  ]);
  const openFiles = Number(fileNr.split(/\s+/)[0]);
  return { containers, networks, addresses, firewallRules, runDirs, openFiles };
}

const bench: Benchmark = {
  name: "soak",
  description: `${CYCLES} create → exec → delete cycles through SDK → gateway → worker (distributed mode) interleaved with the same cycle on plain containers through the Engine API; resources of every process and of the host before and after`,
  async run() {
    const dockerInfo = (await detectBackends()).find((b) => b.backend === "docker");
    if (!dockerInfo?.available || process.getuid?.() !== 0)
      throw new Error(
        `bench/soak needs root and a Docker engine with the base image (${dockerInfo?.detail ?? "no docker"}): run scripts/ensure-docker.sh and \`aetherium image build\``,
      );
    const docker = new DockerBackend().docker;
    const fleet = await openBenchFleet("soak");
    const suffix = randomBytes(3).toString("hex");
    const workerId = `soak-${suffix}`;
    const rawLeft = new Set<string>();
    try {
      const worker = await fleet.startWorker(workerId);
      const { process: gateway, url } = await fleet.startGateway();
      const client = new AetheriumClient({ url, apiKey: fleet.apiKey });

      let failures = 0;
      const errors = new Map<string, number>();
      const fail = (err: unknown) => {
        failures++;
        const key = err instanceof Error ? err.message.slice(0, 120) : String(err);
        errors.set(key, (errors.get(key) ?? 0) + 1);
      };
      let n = 0;
      const ours = async () => {
        const vm = await client.vms.create({ name: `soak-${suffix}-${n++}` }, { wait: true });
        try {
          const r = await vm.exec("true");
          if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}`);
        } finally {
          await vm.delete({ wait: true });
        }
      };
      const raw = async () => {
        const c = await rawCreate(docker, {
          image: DEFAULT_BASE_IMAGE,
          workerId: `${workerId}-raw`,
          networkMode: SANDBOX_NETWORK,
          vcpus: 1,
          memoryMb: 512,
        });
        rawLeft.add(c.id);
        try {
          await c.start();
          const r = await rawExec(docker, c.id, ["true"]);
          if (r.exitCode !== 0) throw new Error(`raw true exited ${r.exitCode}`);
        } finally {
          await c.remove({ force: true });
          rawLeft.delete(c.id);
        }
      };
      const timed = async (fn: () => Promise<void>, into: number[]) => {
        const t0 = performance.now();
        try {
          await fn();
          into.push(performance.now() - t0);
        } catch (err) {
          fail(err);
        }
      };

      const warm: number[] = [];
      for (let i = 0; i < WARMUP; i++) {
        await timed(ours, warm);
        await timed(raw, warm);
      }
      failures = 0;
      errors.clear();
      const before = {
        gateway: await processFigures(gateway.pid),
        worker: await processFigures(worker.pid),
        host: await hostFigures(docker),
      };

      const oursMs: number[] = [];
      const rawMs: number[] = [];
      const deadline = performance.now() + MAX_MS;
      let cycles = 0;
      for (; cycles < CYCLES && performance.now() < deadline; cycles++) {
        await timed(ours, oursMs);
        await timed(raw, rawMs);
      }
      // Let deferred work (event fan-out, audit batching, pool idling) settle before measuring.
      await new Promise((r) => setTimeout(r, 2000));
      const after = {
        gateway: await processFigures(gateway.pid),
        worker: await processFigures(worker.pid),
        host: await hostFigures(docker),
      };
      const leftover = (
        await docker.listContainers({
          all: true,
          filters: { label: [`${SANDBOX_LABELS.workerId}=${workerId}`] },
        })
      ).length;

      const o = summarize(oursMs);
      const b = summarize(rawMs);
      console.log(
        formatTable([
          ["cycle create → exec → delete", "n", "p50 ms", "p99 ms", "failures"],
          [
            "ours (SDK → gateway → worker)",
            String(o.n),
            String(round(o.p50, 0)),
            String(round(o.p99, 0)),
            String(failures),
          ],
          [
            "plain container (Engine API)",
            String(b.n),
            String(round(b.p50, 0)),
            String(round(b.p99, 0)),
            "—",
          ],
        ]),
      );
      const rows: string[][] = [["resource", "before", "after", "delta"]];
      for (const who of ["gateway", "worker"] as const)
        for (const k of ["rssMb", "fds"] as const)
          rows.push([
            `${who} ${k}`,
            String(before[who][k]),
            String(after[who][k]),
            String(round(after[who][k] - before[who][k], 1)),
          ]);
      for (const k of Object.keys(before.host) as (keyof HostFigures)[])
        rows.push([
          `host ${k}`,
          String(before.host[k]),
          String(after.host[k]),
          String(after.host[k] - before.host[k]),
        ]);
      console.log(formatTable(rows));
      for (const [message, count] of errors) console.log(`  ${count} × ${message}`);
      if (cycles < CYCLES)
        console.log(`  stopped at the ${MAX_MS / 1000} s bound after ${cycles} cycles`);
      return {
        bench: "soak",
        ratio: round(o.p50 / b.p50, 2),
        cycles,
        failures,
        oursP50Ms: round(o.p50, 1),
        oursP99Ms: round(o.p99, 1),
        rawP50Ms: round(b.p50, 1),
        gatewayRssDeltaMb: round(after.gateway.rssMb - before.gateway.rssMb, 1),
        workerRssDeltaMb: round(after.worker.rssMb - before.worker.rssMb, 1),
        gatewayFdDelta: after.gateway.fds - before.gateway.fds,
        workerFdDelta: after.worker.fds - before.worker.fds,
        containerDelta: after.host.containers - before.host.containers,
        networkDelta: after.host.networks - before.host.networks,
        addressDelta: after.host.addresses - before.host.addresses,
        firewallRuleDelta: after.host.firewallRules - before.host.firewallRules,
        runDirDelta: after.host.runDirs - before.host.runDirs,
        leftoverContainers: leftover,
      };
    } finally {
      await fleet.close();
      for (const id of rawLeft)
        await docker
          .getContainer(id)
          .remove({ force: true })
          .catch(() => undefined);
    }
  },
};

export default bench;
