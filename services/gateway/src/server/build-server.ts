import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import Fastify, { type FastifyInstance } from "fastify";
import {
  BadRequestError,
  httpStatusOf,
  isAetheriumError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  toErrorEnvelope,
  type Logger,
} from "@aetherium/common";

/** `GET /api/v1/health` body. */
export interface HealthReport {
  readonly status: "ok" | "degraded";
  readonly version: string;
  readonly components: Record<
    string,
    { readonly status: "ok" | "degraded" | "down"; readonly detail?: string }
  >;
}

/** What the HTTP server needs from the rest of the process. */
export interface ServerDeps {
  readonly logger: Logger;
  readonly health: () => Promise<HealthReport>;
  /** Largest accepted request body. */
  readonly bodyLimitBytes?: number;
}

/**
 * Builds the gateway's Fastify app. Every error, Fastify's own included (malformed JSON, unknown
 * route, oversized body), leaves as API.md's envelope with the request id.
 */
export function buildServer(
  deps: ServerDeps,
): FastifyInstance<Server, IncomingMessage, ServerResponse, Logger> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.bodyLimitBytes ?? 10 * 1024 * 1024,
    // Honour a caller's id so one request can be followed through gateway, worker and logs.
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    },
    disableRequestLogging: false,
  });

  app.addHook("onSend", async (req, reply) => {
    reply.header("x-request-id", req.id);
  });

  app.setErrorHandler((err, req, reply) => {
    const mapped = fromFastifyError(err);
    const envelope = toErrorEnvelope(mapped, req.id);
    const status = httpStatusOf(mapped);
    if (status >= 500) req.log.error({ err }, "request failed");
    return reply.status(status).send(envelope);
  });

  app.setNotFoundHandler((req, reply) => {
    const err = new NotFoundError("route", `${req.method} ${req.url.split("?")[0]}`);
    return reply.status(404).send(toErrorEnvelope(err, req.id));
  });

  app.get("/api/v1/health", async (_req, reply) => {
    const report = await deps.health();
    // Degraded still answers 200: the process serves requests; the body says what is missing.
    return reply.status(200).send(report);
  });

  return app;
}

/**
 * Fastify's own client errors (malformed JSON, oversized body, wrong content type) carry a 4xx
 * `statusCode` and a message safe to show; they become our typed errors so the envelope and code
 * match API.md. Anything else passes through (and an unknown error becomes a generic 500).
 */
function fromFastifyError(err: unknown): unknown {
  if (isAetheriumError(err) || typeof err !== "object" || err === null) return err;
  const { statusCode, message } = err as { statusCode?: unknown; message?: unknown };
  if (typeof statusCode !== "number" || statusCode < 400 || statusCode >= 500) return err;
  const text = typeof message === "string" ? message : "bad request";
  if (statusCode === 413) return new PayloadTooLargeError(text);
  if (statusCode === 429) return new RateLimitedError(1, text);
  return new BadRequestError(text);
}
