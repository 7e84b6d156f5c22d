import type { AddressInfo } from "node:net";
import websocket from "@fastify/websocket";
import { NotFoundError, type Logger } from "@aetherium/common";
import {
  clientErrorHandler,
  frameworkErrorHandler,
  installErrorHandling,
  MAX_PARAM_LENGTH,
  requestIdFor,
} from "@aetherium/core";
import Fastify, { LogController, type FastifyInstance } from "fastify";
import { validatorCompiler } from "fastify-type-provider-zod";
import { WEBSOCKET_ROUTES, type DataPlane } from "../data-plane/data-plane-routes.js";
import type { WorkerMetrics } from "./worker-metrics.js";

/** What `/healthz` reports, computed on each probe. */
export interface HealthState {
  readonly healthy: boolean;
  readonly body: Record<string, unknown>;
}

/** The worker's internal port, listening. */
export interface InternalServer {
  /** `http://host:port` it listens on. */
  readonly url: string;
  /** Closes the exec sockets (their commands are killed and recorded), then the port. */
  close(): Promise<void>;
}

/**
 * The worker's internal port, one Fastify app: `/healthz` (200 or 503, for Kubernetes probes,
 * answered from the daemon's real state), `/metrics` (Prometheus) and the data plane
 * (`/internal/v1/…`). Every error, the HTTP parser's own included, is spec/api.md's envelope
 * through the error handling the gateway uses too.
 *
 * Request logging is off: the execute route is on the path of every command a user runs. Errors
 * are still logged, by the shared error handling.
 */
export async function startInternalServer(options: {
  host: string;
  port: number;
  metrics: WorkerMetrics;
  health: () => HealthState;
  dataPlane: DataPlane;
  logger: Logger;
}): Promise<InternalServer> {
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (err, req, reply) => frameworkErrorHandler(err, req, reply),
    clientErrorHandler,
    genReqId: requestIdFor,
    // The data plane streams long commands and files: no server-side timeout cuts them.
    requestTimeout: 0,
    // Stopping the worker cuts what is still in flight rather than wait for a download to end.
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installErrorHandling(app);
  await app.register(websocket, {
    options: { perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 },
    // A client that vanishes mid-stream is routine; the session records what happened.
    errorHandler: (err, socket) => {
      options.logger.debug({ err }, "exec socket error");
      socket.terminate();
    },
    // The data plane closes its own sockets (killing their commands) before the app closes.
    preClose: (done) => done(),
  });
  app.get("/healthz", (_req, reply) => {
    const state = options.health();
    return reply.status(state.healthy ? 200 : 503).send(state.body);
  });
  app.get("/metrics", async (_req, reply) => {
    const text = await options.metrics.registry.metrics();
    return reply.type(options.metrics.registry.contentType).send(text);
  });
  await options.dataPlane.register(app);
  // Only the exec and process stream routes take an upgrade; elsewhere one is refused like an unknown route, with
  // the envelope, instead of a socket that opens and closes at once.
  app.addHook("onRequest", (req, _reply, done) => {
    if (req.ws && !WEBSOCKET_ROUTES.includes(req.routeOptions.url ?? "")) {
      done(new NotFoundError("route", `websocket ${req.url.split("?")[0]}`));
      return;
    }
    done();
  });

  await app.listen({ host: options.host, port: options.port });
  const { port } = app.server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: async () => {
      await options.dataPlane.close();
      await app.close();
    },
  };
}
