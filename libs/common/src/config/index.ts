/** Platform configuration: the schema, `loadConfig()` and `redactConfig()`. */
export * from "./config-schema.js";
export { ENV_ALIASES, ENV_PREFIX } from "./env-overrides.js";
export type { EnvSource } from "./expand-vars.js";
export * from "./load-config.js";
export { redactConfig } from "./redact-config.js";
