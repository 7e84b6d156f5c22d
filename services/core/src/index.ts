/**
 * Aetherium core: sandbox backends, guest agent, storage, queue, worker daemon and domain services.
 * @module
 */
export { detectBackends, type BackendProbe, type DetectOptions } from "./backends/detect-backends.js";
export { AETHERIUM_VERSION } from "./version.js";
