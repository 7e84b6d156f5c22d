/**
 * The control plane: domain services, storage, the job queue, routing, the reaper, the
 * data-plane client a gateway uses to reach workers, and the error handling every Fastify app of
 * the platform (the gateway, a worker's internal port) shares. Only what other packages use is exported.
 * @module
 */
export {
  DataPlaneClient,
  type DataPlaneTarget,
  dataPlaneTargetFor,
  relayExecSockets,
} from "./data-plane/data-plane-client.js";
export { BufferWatermark, DEFAULT_MAX_BUFFERED_BYTES, sendBounded } from "./data-plane/ws-flow.js";
export {
  clientErrorHandler,
  frameworkErrorHandler,
  installErrorHandling,
  MAX_PARAM_LENGTH,
  requestIdFor,
} from "./http/error-handling.js";
export { explainWait } from "./domain/admission.js";
export { toExecution, toTask, toVm, toWorker } from "./domain/mappers.js";
export { TaskService } from "./domain/task-service.js";
export { VmService } from "./domain/vm-service.js";
export { AGENT_PATH } from "./prompts/agent-adapters.js";
export { PromptService } from "./prompts/prompt-service.js";
export {
  runPrompt,
  type AgentProcessSpec,
  type AgentProcessStarter,
  type StartedAgentProcess,
} from "./prompts/prompt-runner.js";
export { type PromptWorkspace, type PromptWorkspaces } from "./prompts/prompt-workspaces.js";
export { WorkspaceService } from "./workspaces/workspace-service.js";
export {
  prepareWorkspace,
  type WorkspaceSandboxHost,
  type WorkspaceToolInstaller,
} from "./workspaces/prepare-workspace.js";
export { deleteWorkspace } from "./workspaces/delete-workspace.js";
export {
  installTools,
  ToolInstallError,
  type InstallToolsOptions,
  type ToolInstallResult,
  type ToolInstallStep,
} from "./tools/install-tools.js";
export type {
  SandboxCommand,
  SandboxCommandResult,
  SandboxCommandRunner,
} from "./tools/sandbox-command-runner.js";
export { InProcessJobQueue } from "./queue/in-process-queue.js";
export {
  type Consumer,
  HandBackError,
  JobCancelledError,
  type JobContext,
  type JobHandler,
  type JobHandlers,
  type JobHooks,
  type JobQueue,
  RetryableError,
} from "./queue/job-queue.js";
export { Reaper, REAPER_LOCK_KEY } from "./reaper/reaper.js";
export { startReaper } from "./reaper/start-reaper.js";
export { createQueuesFor, workerQueueName } from "./routing/routing.js";
export { recoverInterruptedWork } from "./control-plane/recover-interrupted.js";
export { advisoryExclusive } from "./storage/advisory-lock.js";
export { InvalidCursorError } from "./storage/cursor.js";
export { type DatabaseHandle, type JsonValue, openDatabase } from "./storage/database.js";
export { Migrator } from "./storage/migrator.js";
export { type ApiKeyRow } from "./storage/repositories/api-keys.js";
export {
  createRepositories,
  type Repositories,
} from "./storage/repositories/create-repositories.js";
export { type ExecutionRow } from "./storage/repositories/executions.js";
export { type IntegrationDeliveryRow } from "./storage/repositories/integration-deliveries.js";
export { type TaskRow } from "./storage/repositories/tasks.js";
export {
  parseIpv4Subnet,
  numberToIpv4,
  type Ipv4Subnet,
  type VmNetworkLeaseRepository,
  type VmNetworkLeaseRow,
} from "./storage/repositories/vm-network-leases.js";
export { type VmRow } from "./storage/repositories/vms.js";
export { type WorkerRow } from "./storage/repositories/workers.js";
export { openControlPlane, type ControlPlane } from "./control-plane/open-control-plane.js";
export { openSharedControlPlane } from "./control-plane/open-shared-control-plane.js";
export { DEFAULT_BASE_IMAGE, DEFAULT_SANDBOX_SHAPE } from "./domain/sandbox-defaults.js";
export { isMigrateAction, runMigrate } from "./control-plane/run-migrate.js";
