/**
 * The Aetherium gateway: REST + WebSocket API and the `aetherium` entry point.
 * @module
 */
export { buildServer, type HealthReport, type ServerDeps } from "./server/build-server.js";
export { startAetherium, type RunningAetherium } from "./start/start-aetherium.js";
export { runCli } from "./cli/run-cli.js";
export { openGateway, type OpenGateway, DEFAULT_DASHBOARD_DIR } from "./start/open-gateway.js";
export { generateApiKey, hashApiKey } from "./auth/api-key-secret.js";
export { ensureBootstrapKey, type BootstrapKey } from "./auth/bootstrap-key.js";
