import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config, Logger } from "@aetherium/common";
import { DataPlaneClient, type ControlPlane } from "@aetherium/core";
import type { Registry } from "prom-client";
import { ensureBootstrapKey, type BootstrapKey } from "../auth/bootstrap-key.js";
import { healthReport, type LocalSandboxes } from "../health/probe-health.js";
import type { PromptSubmitter } from "../integrations/contract.js";
import { buildServer, type GatewayApp } from "../server/build-server.js";

/** The dashboard build beside this gateway in a checkout: `services/dashboard/out`. */
export const DEFAULT_DASHBOARD_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../dashboard/out",
);

/** A listening gateway. */
export interface OpenGateway {
  readonly app: GatewayApp;
  readonly url: string;
  readonly adminKey: BootstrapKey;
  /** Whether the dashboard build was found and is served at `/`. */
  readonly dashboard: boolean;
  close(): Promise<void>;
}

/**
 * The gateway half shared by `aetherium start` and `aetherium gateway`: makes sure the bootstrap
 * admin key exists, builds the server over `runtime`, and listens on `server.host:port`.
 */
export async function openGateway(
  runtime: ControlPlane,
  config: Config,
  options: {
    logger: Logger;
    /** Level of the per-request log lines (`ServerDeps.requestLogLevel`); `info` by default. */
    requestLogLevel?: "info" | "debug";
    /** The sandboxes of a worker in this same process, reported by `/health` instead of the fleet. */
    local?: LocalSandboxes;
    metricsRegistries?: readonly Registry[];
    /** Prompts to workspaces, where the process has them (integrations' `prompt`). */
    prompts?: PromptSubmitter;
  },
): Promise<OpenGateway> {
  const adminKey = await ensureBootstrapKey(runtime.repos, {
    ...(config.auth.apiKey ? { configuredKey: config.auth.apiKey } : {}),
    home: config.home,
  });
  const dashboardDir = config.server.dashboardDir ?? DEFAULT_DASHBOARD_DIR;
  const app = await buildServer({
    logger: options.logger,
    ...(options.requestLogLevel ? { requestLogLevel: options.requestLogLevel } : {}),
    runtime,
    dataPlane: new DataPlaneClient(),
    health: () =>
      healthReport(runtime, { timeoutMs: config.server.healthTimeoutMs, local: options.local }),
    bodyLimitBytes: config.server.bodyLimitMb * 1024 * 1024,
    maxUploadBytes: config.server.maxUploadMb * 1024 * 1024,
    corsOrigins: config.server.corsOrigins,
    rateLimit: {
      max: config.server.rateLimitPerMinute,
      timeWindowMs: 60_000,
      ...(config.redis.url ? { redisUrl: config.redis.url } : {}),
      keyPrefix: config.redis.keyPrefix,
      redisCommandTimeoutMs: config.redis.commandTimeoutMs,
      redisConnectTimeoutMs: config.redis.connectTimeoutMs,
    },
    failedAuthLimit: {
      max: config.server.authFailureLimit,
      windowMs: config.server.authFailureWindowSec * 1000,
      ...(config.redis.url ? { redisUrl: config.redis.url } : {}),
      keyPrefix: config.redis.keyPrefix,
    },
    dashboardDir,
    metricsRegistries: options.metricsRegistries ?? [],
    waitTimeoutMs: config.server.waitTimeoutSec * 1000,
    integrations: config.integrations,
    ...(options.prompts ? { prompts: options.prompts } : {}),
  });
  const address = await app.listen({ host: config.server.host, port: config.server.port });
  const dashboard = app.hasRoute({ method: "GET", url: "/*" });
  return {
    app,
    url: address.replace("[::1]", "localhost"),
    adminKey,
    dashboard,
    close: () => app.close(),
  };
}
