/** The transport-neutral `EventBus` contract and its implementations (in-process, Redis). */
export * from "./event-bus.js";
export * from "./in-memory-event-bus.js";
export * from "./redis-event-bus.js";
