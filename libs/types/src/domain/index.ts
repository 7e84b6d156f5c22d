/** The domain model: identifiers, sandboxes and their status machine, tasks, executions, workers, workspaces and friends. */
export * from "./api-key.js";
export * from "./environment.js";
export * from "./execution.js";
export * from "./ids.js";
export * from "./network-policy.js";
export * from "./primitives.js";
export * from "./prompt.js";
export * from "./secret.js";
export * from "./state-machine.js";
export * from "./task.js";
export * from "./tool-spec.js";
export * from "./vm.js";
export * from "./worker.js";
export * from "./workspace.js";
