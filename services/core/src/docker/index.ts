/**
 * The Docker sandbox backend and the backend contract the microVM backends share.
 * @module
 */
export type {
  SandboxBackend,
  SandboxEvent,
  SandboxEventWatch,
  SandboxInfo,
  SandboxSpec,
} from "./sandbox-backend.js";
export {
  DockerBackend,
  SANDBOX_CAP_ADD,
  SANDBOX_LABELS,
  SANDBOX_NETWORK,
  networkModeFor,
  type DockerBackendOptions,
  type SandboxStats,
} from "./docker-backend.js";
export {
  DockerEgress,
  EGRESS_ALLOW_LABEL,
  EGRESS_NETWORK,
  EGRESS_PROXY_PORT,
  type DockerEgressOptions,
  type EgressAttachment,
} from "./docker-egress.js";
export {
  DockerEngineUnavailableError,
  DockerOperationError,
  IMAGE_BUILD_COMMAND,
  ImageMissingError,
  SandboxConflictError,
  SandboxNotFoundError,
  isRetryableDockerError,
  mapDockerError,
  type DockerBackendError,
  type DockerErrorContext,
} from "./docker-errors.js";
