/** The event catalog, the event envelope and topic matching. */
export * from "./catalog.js";
export * from "./envelope.js";
export * from "./topics.js";
