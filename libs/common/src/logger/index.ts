/** Structured logging: `createLogger()`, the `Logger` type and the shared redaction list. */
export * from "./create-logger.js";
export * from "./redact-paths.js";
