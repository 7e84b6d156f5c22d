import cors from "@fastify/cors";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import websocket from "@fastify/websocket";
import Fastify, { LogController, type FastifyInstance } from "fastify";
import { validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { Redis } from "ioredis";
import {
  clientErrorHandler,
  frameworkErrorHandler,
  installErrorHandling,
  MAX_PARAM_LENGTH,
  requestIdFor,
} from "@aetherium/core";
import { installAuditTrail } from "../audit/audit-trail.js";
import { openApiOptions } from "../openapi/openapi-options.js";
import { DataPlaneRouter } from "../data-plane/data-plane-router.js";
import { ExecutionService } from "../execution/execution-service.js";
import { API_SUBPROTOCOL, installAuth, installRouteScopes } from "../auth/authenticate.js";
import { FailedAuthLimiter } from "../auth/failed-auth-limiter.js";
import { OpenStreams } from "../auth/open-streams.js";
import { registerApiKeyRoutes } from "../routes/api-keys.js";
import { registerBackendRoutes } from "../routes/backends.js";
import { registerClusterRoutes } from "../routes/cluster.js";
import { registerDashboard } from "../routes/dashboard.js";
import { registerE2b } from "../e2b/register-e2b.js";
import { registerEnvironmentRoutes } from "../routes/environments.js";
import { installE2bUserPorts } from "../e2b/user-ports.js";
import { registerEventRoutes } from "../routes/events.js";
import { registerSecretRoutes } from "../routes/secrets.js";
import { registerExecRoutes } from "../routes/exec.js";
import { registerFileRoutes } from "../routes/files.js";
import { registerHealthRoutes } from "../routes/health.js";
import { registerIntegrations } from "../integrations/register-integrations.js";
import { registerPromptRoutes } from "../routes/prompts.js";
import { registerWorkspaceRoutes } from "../routes/workspaces.js";
import { registerTaskRoutes } from "../routes/tasks.js";
import { registerVmRoutes } from "../routes/vms.js";
import { registerWorkerRoutes } from "../routes/workers.js";
import type { RouteDeps, ServerDeps } from "./deps.js";
import { installHttpMetrics } from "./http-metrics.js";
import { resilientRateLimitStore } from "./rate-limit-store.js";
import { installWebSocketOnly } from "./websocket-only.js";

export type { HealthReport, ServerDeps } from "./deps.js";

/**
 * Fastify's request logs one level down: "incoming request" and "request completed" at debug,
 * while a request that errored is still logged as an error.
 */
class DebugRequestLogs extends LogController {
  override incomingRequest(...[request]: Parameters<LogController["incomingRequest"]>): void {
    if (!this.isLogDisabled(request)) request.log.debug({ req: request }, "incoming request");
  }

  override requestCompleted(...args: Parameters<LogController["requestCompleted"]>): void {
    const [error, request, reply] = args;
    if (error) return super.requestCompleted(...args);
    if (!this.isLogDisabled(request)) {
      reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, "request completed");
    }
  }
}

/** The gateway's Fastify app. */
export type GatewayApp = FastifyInstance;

/**
 * Builds the gateway: the whole of spec/api.md under `/api/v1`, the OpenAPI document and a browsable
 * reference, `/metrics`, and the dashboard at `/`. Every input is validated with the zod schemas
 * of `@aetherium/types`; every error, Fastify's own included, leaves as spec/api.md's envelope.
 */
export async function buildServer(deps: ServerDeps): Promise<GatewayApp> {
  // Typed with Fastify's base logger: plugins and route modules take the plain instance type.
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger,
    ...(deps.requestLogLevel === "debug" ? { logController: new DebugRequestLogs() } : {}),
    bodyLimit: deps.bodyLimitBytes ?? 10 * 1024 * 1024,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (err, req, reply) => frameworkErrorHandler(err, req, reply),
    clientErrorHandler,
    // Honour a caller's id so one request can be followed through gateway, worker and logs.
    genReqId: requestIdFor,
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  // Responses are built from typed mappers; re-validating every list item with zod on the way
  // out would cost more than the query behind it. The schemas still document the responses.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // Before any route (plugins' included), so every route gets its access from the one table.
  installRouteScopes(app);
  installWebSocketOnly(app);
  const router = new DataPlaneRouter(deps.runtime.repos, deps.dataPlane);
  // Before authentication: a sandbox's own ports answer without an API key, as E2B's do.
  installE2bUserPorts(app, { repos: deps.runtime.repos, router, logger: deps.logger });
  const redisFor = sharedRedis(app, deps);

  app.addHook("onSend", async (req, reply) => {
    reply.header("x-request-id", req.id);
  });
  let notFoundPage: Buffer | undefined;
  installErrorHandling(app, { notFoundPage: () => notFoundPage });
  installHttpMetrics(app, deps.metricsRegistries ?? []);

  await app.register(cors, {
    origin: deps.corsOrigins && deps.corsOrigins.length > 0 ? [...deps.corsOrigins] : false,
    exposedHeaders: ["x-request-id", "retry-after"],
  });
  await app.register(websocket, {
    options: {
      // Browsers offer the key as a subprotocol; the answer must be one they offered.
      handleProtocols: (protocols) => (protocols.has(API_SUBPROTOCOL) ? API_SUBPROTOCOL : false),
      maxPayload: 16 * 1024 * 1024,
    },
  });
  await registerRateLimit(app, deps, redisFor);
  await app.register(swagger, openApiOptions());
  await app.register(swaggerUi, { routePrefix: "/api/v1/docs", uiConfig: { deepLinking: true } });
  const failures = deps.failedAuthLimit;
  installAuth(app, {
    repos: deps.runtime.repos,
    logger: deps.logger,
    ...(failures && failures.max > 0
      ? {
          failedAuth: new FailedAuthLimiter({
            max: failures.max,
            windowMs: failures.windowMs,
            logger: deps.logger,
            ...(failures.redisUrl
              ? { redis: redisFor(failures.redisUrl), keyPrefix: failures.keyPrefix }
              : {}),
          }),
        }
      : {}),
  });
  installAuditTrail(app, { repos: deps.runtime.repos, logger: deps.logger });

  const routeDeps: RouteDeps = {
    ...deps,
    waitTimeoutMs: deps.waitTimeoutMs ?? 120_000,
    router,
    executions: new ExecutionService(deps.runtime, router),
    streams: new OpenStreams(
      { repos: deps.runtime.repos, logger: deps.logger },
      deps.streamRecheckMs,
    ),
  };
  app.addHook("onClose", (_app, done) => {
    routeDeps.streams.close();
    done();
  });
  const api = app.withTypeProvider<ZodTypeProvider>();
  registerHealthRoutes(api, routeDeps);
  registerVmRoutes(api, routeDeps);
  registerExecRoutes(api, routeDeps);
  // Its own plugin scope: the raw-body parser for uploads must not apply to JSON routes.
  await app.register((scope, _opts, done) => {
    registerFileRoutes(scope.withTypeProvider(), routeDeps);
    done();
  });
  registerTaskRoutes(api, routeDeps);
  registerWorkerRoutes(api, routeDeps);
  registerClusterRoutes(api, routeDeps);
  registerBackendRoutes(api, routeDeps);
  registerApiKeyRoutes(api, routeDeps);
  registerEventRoutes(api, routeDeps);
  registerPromptRoutes(api, routeDeps);
  registerEnvironmentRoutes(api, routeDeps);
  registerWorkspaceRoutes(api, routeDeps);
  registerSecretRoutes(api, routeDeps);
  await registerE2b(app, routeDeps);
  await registerIntegrations(app, routeDeps);
  app.get("/api/v1/openapi.json", { schema: { hide: true } }, () => app.swagger());
  if (deps.dashboardDir) {
    notFoundPage = (await registerDashboard(app, deps.dashboardDir))?.notFoundPage;
  }
  return app;
}

/** One Redis connection per URL for the server's limiters, closed with the server. */
function sharedRedis(app: FastifyInstance, deps: ServerDeps): (url: string) => Redis {
  const clients = new Map<string, Redis>();
  app.addHook("onClose", async () => {
    await Promise.all([...clients.values()].map((r) => r.quit().catch(() => void r.disconnect())));
  });
  return (url) => {
    let redis = clients.get(url);
    if (!redis) {
      redis = new Redis(url, {
        maxRetriesPerRequest: 1,
        enableOfflineQueue: true,
        // Counting is worth little waiting: past this a request is counted in-process.
        commandTimeout: Math.min(deps.rateLimit?.redisCommandTimeoutMs ?? 1000, 1000),
        connectTimeout: deps.rateLimit?.redisConnectTimeoutMs ?? 3000,
      });
      // ioredis reconnects by itself; the limiters log an outage once, so the events stay quiet.
      redis.on("error", () => undefined);
      clients.set(url, redis);
    }
    return redis;
  };
}

async function registerRateLimit(
  app: FastifyInstance,
  deps: ServerDeps,
  redisFor: (url: string) => Redis,
): Promise<void> {
  const opts = deps.rateLimit;
  if (!opts || opts.max <= 0) return;
  const redis = opts.redisUrl ? redisFor(opts.redisUrl) : undefined;
  const store = redis
    ? resilientRateLimitStore(redis, deps.logger, `${opts.keyPrefix ?? "aetherium:"}ratelimit:`)
    : undefined;
  await app.register(rateLimit, {
    global: true,
    max: opts.max,
    timeWindow: opts.timeWindowMs,
    // After authentication, so the budget is the key's, not the address's (many clients share
    // one address behind a proxy; one key is one caller).
    hook: "preHandler",
    keyGenerator: (req) => req.principal?.keyId ?? `ip:${req.ip}`,
    // The E2B control API counts like /api/v1; its in-sandbox calls carry no key to count by.
    allowList: (req) =>
      !(req.url.startsWith("/api/v1/") || /^\/e2b\/(?:v2\/)?sandboxes/.test(req.url)) ||
      req.url.startsWith("/api/v1/health"),
    ...(store ? { store } : {}),
    // The plugin throws what this returns; the error handler turns it into the envelope.
    errorResponseBuilder: (_req, ctx) =>
      Object.assign(new Error(`rate limit of ${ctx.max} requests per ${ctx.after} reached`), {
        statusCode: 429,
        retryAfterSec: Math.max(1, Math.ceil(ctx.ttl / 1000)),
      }),
  });
}
