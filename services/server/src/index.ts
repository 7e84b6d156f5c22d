/**
 * The `aetherium` server command. `start` composes the gateway's and the worker's roots in one
 * process; `gateway`, `worker` and `migrate` hand over to their own package's root.
 * @module
 */
export { runCli } from "./cli/run-cli.js";
export { startAetherium, type RunningAetherium } from "./start/start-aetherium.js";
