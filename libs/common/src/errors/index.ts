/** The `AetheriumError` hierarchy and its rendering as the API's error envelope. */
export * from "./aetherium-error.js";
export * from "./config-error.js";
export * from "./error-envelope.js";
export * from "./http-errors.js";
export * from "./dependency-errors.js";
