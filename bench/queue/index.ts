// bench/queue: no-op tasks end to end through Aetherium (tasks row → BullMQ → worker → row
// succeeded) against raw BullMQ add→process on the same Redis, side by side in one run.
import { randomBytes } from "node:crypto";
import { createLogger, loadConfig } from "@aetherium/common";
import { openControlPlane } from "@aetherium/core";
import { startWorkerProcess } from "@aetherium/worker";
import { createTestDatabase, createTestRedis, deleteByPrefix } from "@aetherium/testing";
import { Queue, Worker } from "bullmq";
import type { Benchmark } from "../lib/bench.js";
import { formatTable, round, summarize } from "../lib/stats.js";

const TASKS = Number(process.env.BENCH_QUEUE_TASKS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_QUEUE_CONCURRENCY ?? 16);
// Every loop below stops at TASKS or at this deadline, whichever comes first.
const DEADLINE_MS = 120_000;

async function rawBullmq(redisUrl: string, prefix: string): Promise<number> {
  const connection = { url: redisUrl, maxRetriesPerRequest: null };
  const queue = new Queue("raw", { connection, prefix });
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => (finish = r));
  const worker = new Worker(
    "raw",
    () => {
      if (++done === TASKS) finish();
      return Promise.resolve(null);
    },
    { connection, prefix, concurrency: CONCURRENCY },
  );
  await worker.waitUntilReady();
  const t0 = performance.now();
  for (let i = 0; i < TASKS; i += 100) {
    const n = Math.min(100, TASKS - i);
    await Promise.all(
      Array.from({ length: n }, (_, j) =>
        queue.add("noop", { i: i + j }, { removeOnComplete: true }),
      ),
    );
  }
  await Promise.race([all, new Promise((r) => setTimeout(r, DEADLINE_MS))]);
  const seconds = (performance.now() - t0) / 1000;
  await worker.close();
  await queue.close();
  return done / seconds;
}

async function ours(databaseUrl: string, redisUrl: string, prefix: string): Promise<number> {
  const logger = createLogger({ level: "silent", format: "json", service: "bench" });
  const config = loadConfig({
    env: {
      AETHERIUM_DATABASE_URL: databaseUrl,
      AETHERIUM_REDIS_URL: redisUrl,
      AETHERIUM_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
      AETHERIUM_REDIS__KEY_PREFIX: prefix,
      AETHERIUM_WORKER_ID: "bench-worker",
      AETHERIUM_WORKER__CAPACITY__VCPUS: "8",
      AETHERIUM_WORKER__CAPACITY__MEMORY_MB: "8192",
      AETHERIUM_WORKER__CAPACITY__MAX_VMS: "10",
      AETHERIUM_WORKER__HEARTBEAT_MS: "1000",
      AETHERIUM_QUEUE__CONCURRENCY: String(CONCURRENCY),
    },
  });
  const rt = await openControlPlane(config, { logger, migrate: true });
  // The worker's own root, with a no-op job in place of sandbox backends.
  const worker = await startWorkerProcess(rt, config, {
    logger,
    internalHost: "127.0.0.1",
    internalPort: 0,
    reaper: false,
    jobs: {
      backends: ["docker"],
      handlers: { "vm:stop": () => Promise.resolve({ stopped: true }) },
    },
  });
  // The sandbox row the tasks point at (a stop on it is the no-op job).
  const vm = await rt.repos.vms.create({
    name: "bench",
    workerId: "bench-worker",
    status: "running",
  });
  const t0 = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < TASKS; i += 100) {
    const n = Math.min(100, TASKS - i);
    const batch = await Promise.all(
      Array.from({ length: n }, () =>
        rt.tasks.submit("vm:stop", { vmId: vm.id }, { vmId: vm.id, ownerWorkerId: "bench-worker" }),
      ),
    );
    ids.push(...batch.map((t) => t.id));
  }
  // Done means the durable row says succeeded, not merely that the handler ran.
  let succeeded = 0;
  while (performance.now() - t0 < DEADLINE_MS) {
    const r = await rt.db.db
      .selectFrom("tasks")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("status", "=", "succeeded")
      .executeTakeFirstOrThrow();
    succeeded = Number(r.n);
    if (succeeded >= TASKS) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (performance.now() - t0) / 1000;
  await worker.close(5000);
  await rt.close();
  return succeeded / seconds;
}

const bench: Benchmark = {
  name: "queue",
  description: `${TASKS} no-op tasks end to end (ours, with durable rows) vs raw BullMQ add→process; goal ours ≥ 1/3 of raw`,
  async run() {
    // Shared, noisy machine: alternate the two in several rounds and compare medians.
    const rounds = Number(process.env.BENCH_QUEUE_ROUNDS ?? 3);
    const raw: number[] = [];
    const mine: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const db = await createTestDatabase();
      const redis = await createTestRedis();
      try {
        raw.push(await rawBullmq(redis.url, `${redis.prefix}raw`));
        mine.push(await ours(db.url, redis.url, `${redis.prefix}ours:`));
      } finally {
        await deleteByPrefix(redis.client, redis.prefix);
        await redis.cleanup();
        await db.drop();
      }
    }
    const rawPerSec = summarize(raw).p50;
    const oursPerSec = summarize(mine).p50;
    const ratio = oursPerSec / rawPerSec;
    console.log(
      formatTable([
        ["", `tasks/s (median of ${rounds})`, "runs"],
        [
          "raw BullMQ add→process",
          String(round(rawPerSec, 0)),
          raw.map((x) => round(x, 0)).join(" "),
        ],
        [
          "Aetherium end to end",
          String(round(oursPerSec, 0)),
          mine.map((x) => round(x, 0)).join(" "),
        ],
        ["ratio (ours / raw)", `${round(ratio, 2)} (goal ≥ 0.33)`, ""],
      ]),
    );
    return {
      bench: "queue",
      tasks: TASKS,
      concurrency: CONCURRENCY,
      rounds,
      oursPerSec: round(oursPerSec, 1),
      rawPerSec: round(rawPerSec, 1),
      ratio: round(ratio, 3),
    };
  },
};
export default bench;
