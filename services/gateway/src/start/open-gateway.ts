import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config, Logger } from "@aetherium/common";
import { AETHERIUM_VERSION, DataPlaneClient, type Runtime } from "@aetherium/core";
import type { Registry } from "prom-client";
import { ensureBootstrapKey, type BootstrapKey } from "../auth/bootstrap-key.js";
import { buildServer, type GatewayApp, type HealthReport } from "../server/build-server.js";

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
  runtime: Runtime,
  config: Config,
  options: {
    logger: Logger;
    health?: () => Promise<HealthReport>;
    metricsRegistries?: readonly Registry[];
  },
): Promise<OpenGateway> {
  const adminKey = await ensureBootstrapKey(runtime.repos, {
    ...(config.auth.apiKey ? { configuredKey: config.auth.apiKey } : {}),
    home: config.home,
  });
  const dashboardDir = config.server.dashboardDir ?? DEFAULT_DASHBOARD_DIR;
  const app = await buildServer({
    logger: options.logger,
    runtime,
    dataPlane: new DataPlaneClient(),
    health: options.health ?? (() => basicHealth(runtime)),
    bodyLimitBytes: config.server.bodyLimitMb * 1024 * 1024,
    maxUploadBytes: config.server.maxUploadMb * 1024 * 1024,
    corsOrigins: config.server.corsOrigins,
    rateLimit: {
      max: config.server.rateLimitPerMinute,
      timeWindowMs: 60_000,
      ...(config.redis.url ? { redisUrl: config.redis.url } : {}),
      keyPrefix: config.redis.keyPrefix,
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

/** Health of a gateway without a worker beside it: the database and the queue. */
async function basicHealth(runtime: Runtime): Promise<HealthReport> {
  const started = Date.now();
  const database = await runtime.repos.workers.list().then(
    () => ({ status: "ok" as const, message: runtime.db.engine, latencyMs: Date.now() - started }),
    (err: unknown) => ({ status: "down" as const, message: (err as Error).message }),
  );
  const workers = await runtime.workers.list().catch(() => []);
  const healthy = workers.filter((w) => w.healthy).length;
  const components: HealthReport["components"] = {
    database,
    queue: { status: "ok", message: runtime.mode === "embedded" ? "in-process" : "bullmq" },
    workers: {
      status: healthy > 0 ? "ok" : "degraded",
      message: `${healthy} of ${workers.length} workers healthy`,
    },
  };
  const ok = Object.values(components).every((c) => c.status === "ok");
  return { status: ok ? "ok" : "degraded", version: AETHERIUM_VERSION, components };
}
