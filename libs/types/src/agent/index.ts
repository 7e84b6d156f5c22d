/**
 * The guest agent protocol (`spec/agent-protocol.md`): JSON-RPC 2.0 methods and notifications
 * between the worker on the host and the agent inside each sandbox.
 */
export * from "./auth.js";
export * from "./common.js";
export * from "./exec.js";
export * from "./fs.js";
export * from "./info.js";
export * from "./method-schemas.js";
export * from "./protocol.js";
export * from "./secrets.js";
