/**
 * Aetherium core: sandbox backends, guest agent, storage, queue, worker daemon and domain services.
 * @module
 */
export {
  detectBackends,
  type BackendProbe,
  type DetectOptions,
} from "./backends/detect-backends.js";
export { AETHERIUM_VERSION } from "./version.js";
export * from "./storage/index.js";
export * from "./queue/index.js";
export * from "./routing/routing.js";
export * from "./docker/index.js";
export * from "./network/index.js";
export * from "./image/index.js";
export * from "./agent/index.js";
export * from "./sandbox/index.js";
export {
  toExecution,
  toTask,
  toVm,
  toWorker,
  maskEnv,
  HEALTHY_WITHIN_MS,
} from "./domain/mappers.js";
export {
  TaskService,
  type SubmitOptions,
  type TaskListFilter,
  type PayloadWithoutTaskId,
} from "./domain/task-service.js";
export { VmService, type VmDefaults, type VmListFilter } from "./domain/vm-service.js";
export { WorkerService } from "./domain/worker-service.js";
export { WorkerDaemon, type WorkerDaemonOptions } from "./worker/worker-daemon.js";
export { Reaper, REAPER_LOCK_KEY, type ReapResult } from "./worker/reaper.js";
export { reaperIntervalMs, startReaper } from "./runtime/start-reaper.js";
export { recoverInterruptedWork, type RecoveryResult } from "./runtime/recover-interrupted.js";
export {
  claimWorkerId,
  resolveWorkerId,
  WorkerIdInUseError,
  WORKER_ID_FILE,
  type ClaimWorkerIdOptions,
} from "./worker/worker-identity.js";
export {
  createTaskRunner,
  InterruptedJobError,
  type TaskRunnerDeps,
} from "./worker/task-runner.js";
export { WorkerMetrics } from "./worker/worker-metrics.js";
export {
  DEFAULT_SANDBOX_SHAPE,
  openRuntime,
  type Runtime,
  type RuntimeOptions,
} from "./runtime/open-runtime.js";
export { startWorker, type StartedWorker } from "./runtime/start-worker.js";
export { openSandboxRuntime, workerIdFor, type SandboxRuntime } from "./runtime/sandbox-runtime.js";
export * from "./dataplane/index.js";
