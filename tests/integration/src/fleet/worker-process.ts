// A real worker process for the fleet tests: `aetherium worker` wired with test handlers.
// Run with: node --conditions=@aetherium/source --import tsx worker-process.ts
// Configured by AETHERIUM_* (database, redis, worker id/zone/capacity) plus TEST_RUNS_PREFIX.
import { createLogger, loadConfig } from "@aetherium/common";
import { openRuntime, WorkerDaemon } from "@aetherium/core";
import { Redis } from "ioredis";
import { testHandlers } from "./test-handlers.js";

const config = loadConfig({ env: process.env });
const logger = createLogger({ level: "warn", format: "json", service: "test-worker" });
const runtime = await openRuntime(config, { logger, lockDurationMs: 1000, stalledIntervalMs: 500 });
const redis = new Redis(config.redis.url ?? "redis://127.0.0.1:6379", {
  maxRetriesPerRequest: null,
});
const workerId = config.worker.id ?? "worker";
const daemon = new WorkerDaemon({
  id: workerId,
  backends: ["docker"],
  capacity: {
    vcpus: config.worker.capacity.vcpus ?? 8,
    memoryMb: config.worker.capacity.memoryMb ?? 16_384,
    maxVms: config.worker.capacity.maxVms,
  },
  zone: config.worker.zone,
  heartbeatMs: config.worker.heartbeatMs,
  offlineAfterMs: config.worker.offlineAfterMs,
  internal: { host: "127.0.0.1", port: 0 },
  queue: runtime.queue,
  repos: runtime.repos,
  bus: runtime.bus,
  logger,
  handlers: testHandlers({
    repos: runtime.repos,
    workerId,
    redis,
    runsKey: (taskId) => `${process.env.TEST_RUNS_PREFIX ?? "runs:"}${taskId}`,
  }),
});
await daemon.start();
console.log(`ready ${workerId} ${daemon.internalUrl}`);

const stop = async () => {
  await daemon.stop(5000);
  await runtime.close();
  await redis.quit();
  console.log(`stopped ${workerId}`);
  process.exit(0);
};
process.once("SIGTERM", () => void stop());
process.once("SIGINT", () => void stop());
