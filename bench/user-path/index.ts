// bench/user-path: what a user of the SDK feels, against what the same user would get from the
// Docker Engine API directly, side by side in one run. Ours runs as real processes, the way an
// install runs: `aetherium worker` and `aetherium gateway` (distributed mode: PostgreSQL + Redis),
// reached through `AetheriumClient` over HTTP. Figures:
// 1. TTI: `POST /vms?wait=true` + the first command, against create + start + exec of a plain
//    container of the same image and limits.
// 2. Exec round trip of `true`: SDK → gateway → worker → agent against `docker exec` (Engine API),
//    interleaved, with the direct agent call (this process dials the sandbox's agent socket) as a
//    second row: what the platform's hops add over the command itself.
// 3. Warm-pool claim through the API: a default-shape create served from a worker's warm pool,
//    timed at the client until the first command's result.
// 4. A burst: N creates at once, each followed by its first command, against N plain containers
//    created, started and exec'd at once.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  buildAgentBundle,
  buildBaseImage,
  detectBackends,
  DockerBackend,
  SANDBOX_LABELS,
  SANDBOX_NETWORK,
  waitForAgent,
} from "@aetherium/worker";
import {
  createRepositories,
  openDatabase,
  DEFAULT_BASE_IMAGE,
  DEFAULT_SANDBOX_SHAPE,
} from "@aetherium/core";
import { AetheriumClient, type Sandbox } from "@aetherium/sdk";
import type { Benchmark } from "../lib/bench.js";
import { openBenchFleet } from "../lib/bench-fleet.js";
import { rawCreate, rawExec, type Docker } from "../lib/raw-docker.js";
import { formatTable, p50p95, round, summarize, timed, until } from "../lib/stats.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const TAG = DEFAULT_BASE_IMAGE;

function envInt(name: string, fallback: number, min: number, max: number): number {
  const n = Number(process.env[name] ?? fallback);
  return Math.max(min, Math.min(max, Number.isFinite(n) ? Math.floor(n) : fallback));
}

/** Creates at once in the burst (the figure third parties compare providers by is 100). */
const BURST = envInt("BENCH_BURST", 100, 1, 200);
/** How long one burst may take, ours and the baseline each; what is unfinished then failed. */
const BURST_MS = envInt("BENCH_BURST_SECONDS", 300, 10, 1800) * 1000;
const TTI_ROUNDS = envInt("BENCH_TTI_ROUNDS", 10, 1, 50);
const EXEC_ROUNDS = envInt("BENCH_EXEC_ROUNDS", 5, 1, 50);
const WARM_ROUNDS = envInt("BENCH_WARM_ROUNDS", 5, 1, 50);
/** The shape of every sandbox and baseline container but the warm ones (the pool's is the default). */
const VCPUS = 1;
const MEMORY_MB = 256;

/** Runs `fn` on every item with at most `limit` at once. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!).catch(() => undefined);
    }),
  );
}

/** One burst: every item starts at once; its time is from the burst's start to its own end. */
async function burst(
  n: number,
  one: (i: number, signal: AbortSignal) => Promise<void>,
): Promise<{ times: number[]; failures: Map<string, number> }> {
  const times: number[] = [];
  const failures = new Map<string, number>();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      // One signal per item: the SDK listens on it for each of its requests and polls.
      const signal = AbortSignal.timeout(BURST_MS);
      try {
        await Promise.race([
          one(i, signal),
          new Promise<never>((_r, reject) =>
            signal.addEventListener("abort", () => reject(new Error("burst time bound reached")), {
              once: true,
            }),
          ),
        ]);
        times.push(performance.now() - t0);
      } catch (err) {
        const key = err instanceof Error ? err.message.slice(0, 120) : String(err);
        failures.set(key, (failures.get(key) ?? 0) + 1);
      }
    }),
  );
  return { times, failures };
}

const bench: Benchmark = {
  name: "user-path",
  description: `what an SDK user feels, against the raw Engine API in one run (real \`aetherium gateway\` + \`aetherium worker\` processes): TTI (goal ≤ 1.15×), exec \`true\` (goal ≥ 10× faster than docker exec), warm claim (goal ≤ 50 ms), burst of ${BURST} creates + first command`,
  async run() {
    const probe = (await detectBackends()).find((b) => b.backend === "docker");
    if (process.getuid?.() !== 0 || !probe?.available) {
      throw new Error(
        `bench/user-path needs root and a Docker engine: run scripts/ensure-docker.sh as root ` +
          `(uid ${process.getuid?.()}; docker: ${probe?.detail ?? "not probed"})`,
      );
    }
    const agentBundle = await buildAgentBundle();
    await buildBaseImage({
      agentFile: agentBundle.path,
      cacheDir: path.join(repo, ".aetherium/cache/image"),
      tag: TAG,
    });

    const backend = new DockerBackend();
    const docker: Docker = backend.docker;
    const fleet = await openBenchFleet("user-path");
    const suffix = randomBytes(3).toString("hex");
    const workerId = `user-${suffix}`;
    const poolWorkerId = `user-${suffix}-pool`;
    const rawWorkerId = `user-${suffix}-raw`;
    // Room for the whole burst on one worker, and as many of its jobs at once: a provider
    // compared by a burst would be sized for it.
    const slots = BURST + 5;
    const sized = (extra: Record<string, string> = {}) => ({
      AETHERIUM_WORKER__CAPACITY__VCPUS: String(slots * VCPUS),
      AETHERIUM_WORKER__CAPACITY__MEMORY_MB: String(slots * DEFAULT_SANDBOX_SHAPE.memoryMb),
      AETHERIUM_WORKER__CAPACITY__MAX_VMS: String(slots),
      AETHERIUM_QUEUE__CONCURRENCY: String(slots),
      ...extra,
    });
    const rawLeft = new Set<string>();
    const handle = await openDatabase({ url: fleet.databaseUrl });
    const repos = createRepositories(handle.db);
    const notes: string[] = [
      "ours: `aetherium gateway` + `aetherium worker` processes (PostgreSQL + Redis), SDK over HTTP on loopback",
      "rate limiter: off (AETHERIUM_RATE_LIMIT=0) so the burst measures creation, not the per-key limit",
    ];
    const raw = (networkMode: string = SANDBOX_NETWORK) =>
      rawCreate(docker, {
        image: TAG,
        workerId: rawWorkerId,
        networkMode,
        vcpus: VCPUS,
        memoryMb: MEMORY_MB,
      }).then((c) => {
        rawLeft.add(c.id);
        return c;
      });
    const rawRemove = async (id: string) => {
      await docker.getContainer(id).remove({ force: true });
      rawLeft.delete(id);
    };

    try {
      const worker = await fleet.startWorker(workerId, sized());
      const gateway = await fleet.startGateway();
      const client = new AetheriumClient({ url: gateway.url, apiKey: fleet.apiKey });
      let n = 0;
      const create = (signal?: AbortSignal) =>
        client.vms.create(
          { name: `bench-${suffix}-${n++}`, vcpus: VCPUS, memoryMb: MEMORY_MB },
          { wait: true, ...(signal ? { signal } : {}) },
        );
      const firstCommand = async (vm: Sandbox, signal?: AbortSignal) => {
        const r = await vm.exec("true", signal ? { signal } : {});
        if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}`);
      };

      // 1. TTI. Deletion is not timed, for ours and the baseline alike.
      const oursTti = async (): Promise<number> => {
        let vm: Sandbox | undefined;
        try {
          return await timed(async () => {
            vm = await create();
            await firstCommand(vm);
          });
        } finally {
          await vm?.delete({ wait: true });
        }
      };
      const rawTti = async (): Promise<number> => {
        let id: string | undefined;
        try {
          return await timed(async () => {
            const c = await raw();
            id = c.id;
            await c.start();
            const r = await rawExec(docker, c.id, ["true"]);
            if (r.exitCode !== 0) throw new Error(`raw true exited ${r.exitCode}`);
          });
        } finally {
          if (id) await rawRemove(id);
        }
      };
      await oursTti(); // warm-up: page cache, the bridge, connection pools, JIT
      await rawTti();
      const ttiOurs: number[] = [];
      const ttiRaw: number[] = [];
      for (let i = 0, more = until(180_000); i < TTI_ROUNDS && more(); i++) {
        // Alternate which goes first, so drift on a noisy host hits both alike.
        if (i % 2 === 0) {
          ttiOurs.push(await oursTti());
          ttiRaw.push(await rawTti());
        } else {
          ttiRaw.push(await rawTti());
          ttiOurs.push(await oursTti());
        }
      }
      const tti = summarize(ttiOurs);
      const rawTtiS = summarize(ttiRaw);

      // 2. Exec round trip, interleaved: SDK path, docker exec, direct agent call.
      const vm = await create();
      const token = await backend.agentToken(vm.id);
      const agent = await waitForAgent(
        backend.agentSocketPath(vm.id),
        10_000,
        token === undefined ? {} : { token },
      );
      const target = await raw("none");
      await target.start();
      for (let i = 0; i < 20; i++) await firstCommand(vm);
      for (let i = 0; i < 5; i++) await rawExec(docker, target.id, ["true"]);
      for (let i = 0; i < 20; i++) await agent.exec({ shell: "true" });
      const execSdk: number[] = [];
      const execDocker: number[] = [];
      const execAgent: number[] = [];
      for (let r = 0, more = until(90_000); r < EXEC_ROUNDS && more(); r++) {
        for (let i = 0; i < 40 && more(); i++) execSdk.push(await timed(() => firstCommand(vm)));
        for (let i = 0; i < 15 && more(); i++)
          execDocker.push(await timed(() => rawExec(docker, target.id, ["true"])));
        for (let i = 0; i < 40 && more(); i++)
          execAgent.push(await timed(() => agent.exec({ shell: "true" })));
      }
      agent.close();
      await vm.delete({ wait: true });
      await rawRemove(target.id);
      const sdkExec = summarize(execSdk);
      const dockerExec = summarize(execDocker);
      const agentExec = summarize(execAgent);

      // 3. The burst: ours, then the baseline, each cleaned up before the next.
      const made: Sandbox[] = [];
      const ours = await burst(BURST, async (_i, signal) => {
        const s = await create(signal);
        made.push(s);
        await firstCommand(s, signal);
      });
      await eachLimited(made, 10, (s) => s.delete({ wait: true }));
      const rawBurst = await burst(BURST, async () => {
        const c = await raw();
        await c.start();
        const r = await rawExec(docker, c.id, ["true"]);
        if (r.exitCode !== 0) throw new Error(`raw true exited ${r.exitCode}`);
      });
      await eachLimited([...rawLeft], 10, rawRemove);
      const burstOurs = summarize(ours.times);
      const burstRaw = summarize(rawBurst.times);
      const burstSuccess = ours.times.length / BURST;
      const rawBurstSuccess = rawBurst.times.length / BURST;
      for (const [m, c] of ours.failures) notes.push(`burst, ours: ${c} × ${m}`);
      for (const [m, c] of rawBurst.failures) notes.push(`burst, raw: ${c} × ${m}`);

      // 4. Warm claim: a worker with a warm pool of one replaces the first, so nothing else boots
      // in the background while it is timed; each claim waits for the pool to be full again.
      await worker.stop();
      await fleet.startWorker(poolWorkerId, sized({ AETHERIUM_SANDBOX__WARM_POOL_SIZE: "1" }));
      const poolReady = async (): Promise<boolean> => {
        for (const more = until(90_000); more();) {
          const rows = await repos.vms.list({ includePool: true, limit: 100 });
          const ready = rows.items.some(
            (r) =>
              r.status === "running" &&
              (r.metadata as { pool?: string } | undefined)?.pool === "warm",
          );
          if (ready) return true;
          await new Promise((r) => setTimeout(r, 200));
        }
        return false;
      };
      const claims: number[] = [];
      for (let i = 0, more = until(240_000); i < WARM_ROUNDS + 1 && more(); i++) {
        if (!(await poolReady())) {
          notes.push("the warm pool was not refilled within 90 s");
          break;
        }
        // Let the refill's own database writes and events settle before timing.
        await new Promise((r) => setTimeout(r, 500));
        let claimed: Sandbox | undefined;
        const t = await timed(async () => {
          claimed = await client.vms.create({ name: `bench-${suffix}-warm-${i}` }, { wait: true });
          await firstCommand(claimed);
        });
        const row = claimed ? await repos.vms.get(claimed.id) : undefined;
        await claimed?.delete({ wait: true });
        if ((row?.metadata as { fromPool?: boolean } | undefined)?.fromPool !== true) {
          notes.push("a default-shape create was not served from the warm pool");
          continue;
        }
        if (i > 0) claims.push(t); // the first claim warms the path
      }
      const warm = claims.length > 0 ? summarize(claims) : undefined;

      const ttiApiRatio = tti.p50 / rawTtiS.p50;
      const execSdkSpeedup = dockerExec.p50 / sdkExec.p50;
      const burstP50Ratio = burstOurs.p50 / burstRaw.p50;
      console.log(
        formatTable([
          ["p50 (p95), ms", "Aetherium (SDK)", "raw Engine API (dockerode)", "ratio", "goal"],
          [
            "TTI create?wait → `true` done",
            p50p95(tti, 0),
            p50p95(rawTtiS, 0),
            `${round(ttiApiRatio, 2)}× raw`,
            "≤ 1.15×",
          ],
          [
            "exec `true` SDK → gateway → worker → agent",
            p50p95(sdkExec, 2),
            p50p95(dockerExec, 1),
            `${round(execSdkSpeedup, 1)}× faster`,
            "≥ 10×",
          ],
          ["  … direct agent call (row)", p50p95(agentExec, 2), "", "", ""],
          [
            "warm claim create?wait → `true` done",
            warm ? p50p95(warm, 1) : "n/a",
            "—",
            "",
            "≤ 50 ms",
          ],
          [
            `burst ${BURST} × (create → \`true\`), from burst start`,
            `${p50p95(burstOurs, 0)} p99 ${round(burstOurs.p99, 0)}`,
            `${p50p95(burstRaw, 0)} p99 ${round(burstRaw.p99, 0)}`,
            `${round(burstP50Ratio, 2)}× raw`,
            "",
          ],
          [
            "burst success",
            `${round(burstSuccess * 100, 1)} %`,
            `${round(rawBurstSuccess * 100, 1)} %`,
            "",
            "100 %",
          ],
        ]),
      );
      for (const note of new Set(notes)) console.log(`note: ${note}`);
      return {
        bench: "user-path",
        ratio: round(execSdkSpeedup, 2),
        ttiApiRatio: round(ttiApiRatio, 3),
        ttiP50Ms: round(tti.p50, 1),
        ttiP95Ms: round(tti.p95, 1),
        rawTtiP50Ms: round(rawTtiS.p50, 1),
        rawTtiP95Ms: round(rawTtiS.p95, 1),
        execSdkSpeedup: round(execSdkSpeedup, 2),
        execSdkP50Ms: round(sdkExec.p50, 3),
        execSdkP95Ms: round(sdkExec.p95, 3),
        execAgentP50Ms: round(agentExec.p50, 3),
        dockerExecP50Ms: round(dockerExec.p50, 2),
        dockerExecP95Ms: round(dockerExec.p95, 2),
        warmClaimApiP50Ms: warm ? round(warm.p50, 1) : null,
        warmClaimApiP95Ms: warm ? round(warm.p95, 1) : null,
        burst: BURST,
        burstP50Ms: round(burstOurs.p50, 0),
        burstP95Ms: round(burstOurs.p95, 0),
        burstP99Ms: round(burstOurs.p99, 0),
        rawBurstP50Ms: round(burstRaw.p50, 0),
        rawBurstP95Ms: round(burstRaw.p95, 0),
        rawBurstP99Ms: round(burstRaw.p99, 0),
        burstP50Ratio: round(burstP50Ratio, 3),
        burstSuccess: round(burstSuccess, 3),
        rawBurstSuccess: round(rawBurstSuccess, 3),
        rateLimiter: "off",
      };
    } finally {
      await handle.close();
      await fleet.close();
      // Everything this run made carries one of its worker ids: sandboxes (with their run dirs),
      // the pool's leftover, and the baseline's plain containers.
      for (const id of [workerId, poolWorkerId, rawWorkerId]) {
        const left = await docker
          .listContainers({ all: true, filters: { label: [`${SANDBOX_LABELS.workerId}=${id}`] } })
          .catch(() => []);
        await eachLimited(left, 10, async (c) => {
          const sandboxId = c.Labels?.[SANDBOX_LABELS.sandboxId];
          await (
            sandboxId
              ? backend.remove(sandboxId)
              : docker.getContainer(c.Id).remove({ force: true })
          ).catch((err: unknown) => console.error(`could not remove container ${c.Id}:`, err));
        });
      }
    }
  },
};

export default bench;
