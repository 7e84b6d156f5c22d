/** Sandbox lifecycle on a worker: the manager over a backend and its job handlers. */
export { OutputCapture } from "./output-capture.js";
export {
  SandboxManager,
  type ExecRequest,
  type ReconcileResult,
  type SandboxManagerDeps,
} from "./sandbox-manager.js";
export { sandboxJobHandlers } from "./job-handlers.js";
