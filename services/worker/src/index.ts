/**
 * A worker host: sandbox backends, sandbox lifecycle, the data-plane server, image building,
 * networking and the worker daemon. Only what other packages use is exported.
 * @module
 */
export { waitForAgent } from "./agent-client/wait-for-agent.js";
export { detectBackends } from "./backends/detect-backends.js";
export { WORKER_ID_FILE } from "./daemon/worker-identity.js";
export { DockerBackend } from "./docker/docker-backend.js";
export { SANDBOX_LABELS, SANDBOX_NETWORK } from "./docker/container-spec.js";
export { EGRESS_NETWORK } from "./docker/docker-egress.js";
export { buildAgentBundle } from "./image/build-agent.js";
export { unrestrictBridge } from "./network/host-firewall.js";
export type { WorkerSandboxes } from "./root/worker-sandboxes.js";
export {
  runWorker,
  startWorkerProcess,
  type WorkerProcess,
  type WorkerRootOptions,
} from "./root/worker-root.js";
export { claimForCreate } from "./sandbox/admission.js";
export { SandboxManager } from "./sandbox/sandbox-manager.js";
export {
  agentCommandRunner,
  sandboxCommandRunner,
  type ProcessStarter,
} from "./sandbox/sandbox-command-runner.js";
export {
  buildBaseImage,
  buildBaseRootfs,
  type BaseImage,
  type ImageBuildProgress,
} from "./image/build-base-image.js";
export { buildVmImage, type VmImage } from "./vm-image/build-vm-image.js";
export { QemuBackend } from "./qemu/qemu-backend.js";
export { VmNetwork } from "./vm-network/vm-network.js";
export { removeUnbridgedTapDrop } from "./vm-network/vm-firewall.js";
