import {
  BadRequestError,
  DEPENDENCY_RETRY_AFTER_SEC,
  DependencyUnavailableError,
  httpStatusOf,
  isAetheriumError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  toDependencyError,
  toErrorEnvelope,
} from "@aetherium/common";
import { InvalidCursorError } from "@aetherium/core";
import { formatPath, type ValidationIssue } from "@aetherium/types";
import type { FastifyInstance } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";

/** Where a failed validation happened, in words a client recognises. */
const CONTEXT_NAMES: Record<string, string> = {
  body: "request body",
  querystring: "query",
  params: "path",
  headers: "headers",
};

/**
 * One error path for the whole gateway: validation failures list every bad field in `details`;
 * Fastify's own client errors (malformed JSON, oversized body, wrong content type) keep their 4xx;
 * a dependency outage (database, queue, event bus) is a `503 unavailable` naming it, with
 * `retry-after`; our typed errors keep their code; anything else is a logged 500 with a generic message, so
 * stack traces, SQL and paths never reach a client.
 */
export function installErrorHandling(
  app: FastifyInstance,
  options: { notFoundPage?: () => Buffer | undefined } = {},
): void {
  app.setErrorHandler((err, req, reply) => {
    const mapped = toDependencyError(err) ?? fromFastifyError(err);
    const status = httpStatusOf(mapped);
    if (mapped instanceof DependencyUnavailableError) {
      // An outage is not a bug: one line naming the dependency and the driver's error is enough.
      req.log.warn({ err: mapped.cause, dependency: mapped.dependency }, "dependency unavailable");
    } else if (status >= 500) req.log.error({ err }, "request failed");
    if (mapped instanceof RateLimitedError || mapped instanceof DependencyUnavailableError) {
      reply.header("retry-after", mapped.retryAfterSec);
    } else if (status === 503) {
      // Every 503 is worth retrying (a worker or the queue out of reach): say when.
      reply.header("retry-after", DEPENDENCY_RETRY_AFTER_SEC);
    }
    return reply.status(status).send(toErrorEnvelope(mapped, req.id));
  });
  app.setNotFoundHandler((req, reply) => {
    // A person who mistyped a dashboard address gets the dashboard's own 404 page, not JSON.
    const page = req.url.startsWith("/api/") ? undefined : options.notFoundPage?.();
    if (page && req.method === "GET") {
      return reply.status(404).type("text/html; charset=utf-8").send(page);
    }
    const err = new NotFoundError("route", `${req.method} ${req.url.split("?")[0]}`);
    return reply.status(404).send(toErrorEnvelope(err, req.id));
  });
}

/** Maps what Fastify and its plugins throw onto our typed errors; others pass through. */
export function fromFastifyError(err: unknown): unknown {
  if (isAetheriumError(err) || typeof err !== "object" || err === null) return err;
  if (err instanceof InvalidCursorError) {
    return new BadRequestError(
      "cursor is not one this API gave out; pass nextCursor from the previous page as it is",
    );
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    const context = CONTEXT_NAMES[err.validationContext ?? ""] ?? "request";
    const details: ValidationIssue[] = err.validation.map((v) => ({
      path: formatPath(
        v.instancePath
          .split("/")
          .filter(Boolean)
          .map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg)),
      ),
      message: v.message ?? "is invalid",
    }));
    const summary = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join("; ");
    return new BadRequestError(`invalid ${context}: ${summary}`, { details });
  }
  const { statusCode, message, retryAfterSec } = err as {
    statusCode?: unknown;
    message?: unknown;
    retryAfterSec?: unknown;
  };
  if (typeof statusCode !== "number" || statusCode < 400 || statusCode >= 500) return err;
  const text = typeof message === "string" ? message : "bad request";
  if (statusCode === 413) return new PayloadTooLargeError(text);
  if (statusCode === 429)
    return new RateLimitedError(typeof retryAfterSec === "number" ? retryAfterSec : 1, text);
  if (statusCode === 404) return new NotFoundError("route", text);
  return new BadRequestError(text);
}
