/**
 * `@aetherium/common`: what every Aetherium service needs at start-up — configuration
 * (`loadConfig`), logging (`createLogger`), the event bus, the error hierarchy, secret redaction and
 * graceful shutdown. Nothing here reads the environment or files at import time.
 *
 * @packageDocumentation
 */
export * from "./config/index.js";
export * from "./errors/index.js";
export * from "./events/index.js";
export * from "./logger/index.js";
export * from "./redaction/index.js";
export * from "./shell/index.js";
export * from "./shutdown/index.js";
