/**
 * `@aetherium/sdk`: the typed client of the Aetherium gateway, for Node and the browser.
 * @module
 */
export {
  AetheriumClient,
  type ClientOptions,
  type ComponentHealthReport,
  type HealthResponse,
} from "./client.js";
export { ApiKeysApi } from "./api-keys-api.js";
export { EnvironmentsApi, type CreateEnvironmentRequest } from "./environments-api.js";
export { SecretsApi, type SetSecretRequest } from "./secrets-api.js";
export {
  WorkspaceError,
  WorkspacesApi,
  type CreateWorkspaceOptions,
  type CreateWorkspaceRequest,
  type ListWorkspacesOptions,
  type WorkspaceWaitOptions,
} from "./workspaces-api.js";
export { BackendsApi } from "./backends-api.js";
export { ClusterApi } from "./cluster-api.js";
export { EventsApi } from "./events-api.js";
export { ExecutionsApi } from "./executions-api.js";
export { IntegrationsApi } from "./integrations-api.js";
export type { ListOptions } from "./list-options.js";
export {
  PromptSession,
  PromptsApi,
  type ListPromptsOptions,
  type RunPromptOptions,
} from "./prompts-api.js";
export { TasksApi, type ListTasksOptions, type WaitTaskOptions } from "./tasks-api.js";
export { VmsApi, type CreateVmOptions, type ListVmsOptions } from "./vms-api.js";
export { WorkersApi, type ListWorkersOptions } from "./workers-api.js";
export {
  AbortError,
  AetheriumApiError,
  AuthError,
  BadRequestError,
  ConflictError,
  ContractError,
  NetworkError,
  NotFoundError,
  RateLimitError,
  SandboxError,
  TimeoutError,
  UnavailableError,
  errorFromCode,
  errorFromResponse,
} from "./errors.js";
export {
  Sandbox,
  SandboxFiles,
  type ActionOptions,
  type ActionResult,
  type ExecOptions,
  type SpawnOptions,
  type WaitOptions,
} from "./sandbox.js";
export {
  ExecSession,
  type ExecExit,
  type ExecSessionOptions,
  type OutputListener,
} from "./exec-session.js";
export {
  matchesEventTopic,
  type EventSubscription,
  type SubscribeOptions,
  type SubscribeQuery,
} from "./events.js";
export { backoffDelay, type BackoffOptions } from "./timing.js";
export { base64Decode, base64Encode, utf8Decode, utf8Encode } from "./base64.js";
export {
  WS_PROTOCOL,
  toWebSocketUrl,
  webSocketProtocols,
  type WebSocketConstructor,
  type WebSocketEventLike,
  type WebSocketLike,
} from "./websocket.js";
export { buildQuery, type QueryValue, type RequestOptions } from "./transport.js";
