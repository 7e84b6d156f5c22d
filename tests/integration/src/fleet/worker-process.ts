// A real worker process for the fleet tests: the worker root, with test handlers.
// Run with: node --conditions=@aetherium/source --import tsx worker-process.ts
// Configured by AETHERIUM_* (database, redis, worker id/zone/capacity) plus TEST_RUNS_PREFIX.
import { createLogger, loadConfig } from "@aetherium/common";
import { openControlPlane } from "@aetherium/core";
import { startWorkerProcess } from "@aetherium/worker";
import { Redis } from "ioredis";
import { testHandlers } from "./test-handlers.js";

const config = loadConfig({ env: process.env });
const logger = createLogger({ level: "warn", format: "json", service: "test-worker" });
const runtime = await openControlPlane(config, {
  logger,
  lockDurationMs: 1000,
  stalledIntervalMs: 500,
});
const redis = new Redis(config.redis.url ?? "redis://127.0.0.1:6379", {
  maxRetriesPerRequest: null,
});
const workerId = config.worker.id ?? "worker";
// The worker's own root, with the test handlers in place of sandbox backends.
const worker = await startWorkerProcess(runtime, config, {
  logger,
  internalHost: "127.0.0.1",
  internalPort: 0,
  reaper: false,
  jobs: {
    backends: ["docker"],
    handlers: testHandlers({
      repos: runtime.repos,
      workerId,
      redis,
      runsKey: (taskId) => `${process.env.TEST_RUNS_PREFIX ?? "runs:"}${taskId}`,
    }),
  },
});
const daemon = worker.daemon;
console.log(`ready ${workerId} ${daemon.internalUrl}`);

const stop = async () => {
  await worker.close(5000);
  await runtime.close();
  await redis.quit();
  console.log(`stopped ${workerId}`);
  process.exit(0);
};
process.once("SIGTERM", () => void stop());
process.once("SIGINT", () => void stop());
