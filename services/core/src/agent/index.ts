/**
 * The guest agent, host side: the client the worker uses to drive a sandbox's agent, and the
 * bundler that produces the agent program itself (`guest/`, which runs inside the sandbox and is
 * not exported here).
 */
export {
  AgentClient,
  AgentProcess,
  waitForAgent,
  type AgentClientOptions,
  type AgentExecSpec,
  type AgentReadChunk,
  type ExecOptions,
  type ExecOutputHandlers,
  type ExecResult,
} from "./host/agent-client.js";
export {
  AgentAuthError,
  AgentConnectionError,
  AgentError,
  AgentSocketRefusedError,
  AgentTimeoutError,
  isAgentError,
  type AgentErrorName,
} from "./host/agent-errors.js";
export {
  buildAgentBundle,
  buildAgentSnapshot,
  DEFAULT_AGENT_BUNDLE_PATH,
  type AgentBundle,
  type AgentSnapshotOptions,
} from "./build-agent.js";
