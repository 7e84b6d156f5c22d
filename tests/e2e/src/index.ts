/**
 * End-to-end test harness: start Aetherium as a user does and drive it from outside.
 * @module
 */
export { AETHERIUM_MAIN, startAetherium, type StartedAetherium } from "./start-aetherium.js";
export { runAetherium, type AetheriumProcess } from "./run-process.js";
