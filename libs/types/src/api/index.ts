/** Request and response shapes of every route in `spec/api.md`. */
export * from "./api-keys.js";
export * from "./backends.js";
export * from "./environments.js";
export * from "./errors.js";
export * from "./exec-ws.js";
export * from "./executions.js";
export * from "./files.js";
export * from "./health.js";
export * from "./integrations.js";
export * from "./pagination.js";
export * from "./prompts.js";
export * from "./tasks.js";
export * from "./vm-metrics.js";
export * from "./vms.js";
export * from "./workers.js";
export * from "./workspaces.js";
