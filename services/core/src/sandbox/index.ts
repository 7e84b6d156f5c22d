/** Sandbox lifecycle on a worker: the manager over a backend and its job handlers. */
export { OutputCapture } from "./output-capture.js";
export {
  exitCodeForSignal,
  SandboxManager,
  type ExecHandle,
  type ExecOutcome,
  type ExecRequest,
  type ExecStreamHandlers,
  type StreamExecRequest,
  type ReconcileResult,
  type SandboxManagerDeps,
} from "./sandbox-manager.js";
export { sandboxJobHandlers } from "./job-handlers.js";
export { claimForCreate, CREATE_CLAIMABLE } from "./admission.js";
