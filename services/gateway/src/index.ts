/**
 * The Aetherium gateway: REST + WebSocket API, auth, the dashboard's files, and the gateway's
 * composition root (`aetherium gateway`).
 * @module
 */
export { buildServer, type HealthReport, type ServerDeps } from "./server/build-server.js";
export {
  runGateway,
  startGatewayProcess,
  type GatewayProcess,
  type GatewayRootOptions,
} from "./root/gateway-root.js";
export type { OpenGateway } from "./root/open-gateway.js";
export type { LocalSandboxes } from "./health/probe-health.js";
export { ensureBootstrapKey, type BootstrapKey } from "./auth/bootstrap-key.js";
export type { PromptSubmitter } from "./integrations/contract.js";
export { registerDiscordCommands } from "./integrations/discord/register-discord-commands.js";
