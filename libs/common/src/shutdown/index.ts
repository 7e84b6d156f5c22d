/** Graceful shutdown: named cleanup steps run once, in reverse order, each with a time limit. */
export * from "./create-shutdown.js";
