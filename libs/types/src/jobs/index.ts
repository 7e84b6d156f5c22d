/** The typed job catalog of the task queue. */
export * from "./catalog.js";
